// The portal's shell: the language, the navigation, who is signed in, and the page for the
// address after `#`. Each page is a function that fills <main> and may return a function that
// stops what it started (a live stream) when the person leaves it.

import { currentSession, signOut } from './api.js';
import { h, show } from './dom.js';
import { languages, preferredLanguage, setLanguage, t } from './i18n.js';
import { failure } from './pages/common.js';
import * as account from './pages/account.js';
import * as keysPages from './pages/keys.js';
import * as pub from './pages/public.js';

const routes = {
  '': pub.home,
  check: pub.check,
  market: pub.market,
  buy: pub.buy,
  verify: pub.verify,
  signin: keysPages.signIn,
  cosign: keysPages.cosign,
  'account': account.overview,
  'account/property': account.property,
  'account/wallet': account.wallet,
  'account/deeds': account.deeds,
  'account/notifications': account.notifications,
  'account/keys': keysPages.myKeys,
  'account/enroll': keysPages.enroll,
  'account/review': account.review,
  extract: account.printable,
};

let stop = null;
let generation = 0;

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { path, params: new URLSearchParams(query) };
}

/// Renders the page for the address. A page still loading when the person moves on draws into a
/// detached element and is stopped, so only the latest address fills <main>.
async function render() {
  stop?.();
  stop = null;
  const mine = ++generation;
  const { path, params } = parseHash();
  const page = routes[path] ?? pub.notFound;
  const main = document.getElementById('main');
  const draft = document.createElement('div');
  renderChrome(path);
  let stopper = null;
  try {
    stopper = (await page(draft, params)) ?? null;
  } catch (error) {
    show(draft, h('h1', {}, t('error.title')), failure(error));
  }
  if (mine !== generation) { stopper?.(); return; }
  stop = stopper;
  main.replaceChildren(...draft.childNodes);
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Tamga` : 'Tamga';
  if (document.activeElement === document.body || document.activeElement?.id === 'brand-link') main.focus({ preventScroll: true });
}

function renderChrome(path) {
  const session = currentSession();
  const links = [['', 'nav.home'], ['check', 'nav.check'], ['market', 'nav.market'], ['verify', 'nav.verify'],
    session ? ['account', 'nav.account'] : ['signin', 'nav.signin']];
  show(document.getElementById('nav'), h('ul', {}, links.map(([target, key]) => h('li', {},
    h('a', { href: `#/${target}`, 'aria-current': (path === target || (target === 'account' && path.startsWith('account'))) ? 'page' : undefined }, t(key))))));
  const who = document.getElementById('who');
  show(who, session
    ? [h('span', { class: 'party' }, t('who.signed_in_as', { party: session.party })), ' ',
      h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: async () => { await signOut(); location.hash = '#/'; render(); } }, t('who.sign_out'))]
    : []);
  document.getElementById('skip-link').textContent = t('skip');
  document.getElementById('language-label').textContent = t('language');
  show(document.getElementById('footer'), h('p', {}, t('footer.text')));
}

async function start() {
  await setLanguage(preferredLanguage());
  const picker = document.getElementById('language');
  show(picker, languages.map(({ code, name }) => h('option', { value: code, lang: code }, name)));
  picker.value = document.documentElement.lang;
  picker.addEventListener('change', async () => { await setLanguage(picker.value); render(); });
  window.addEventListener('hashchange', render);
  render();
}

start();
