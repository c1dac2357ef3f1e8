// The pages anyone may open: the encumbrance check, the sales sector, buying, and the verifier.

import { currentSession, get, network, pages, transact } from '../api.js';
import { field, h, notice, readFile, show } from '../dom.js';
import { area, date, money, share, t } from '../i18n.js';
import { storedKeys } from '../keys.js';
import { verifyExtract } from '../proof.js';
import { busy, findOffer, kindName, receiptView, restrictionList } from './common.js';

export function home(main) {
  const card = (target, key) => h('li', { class: 'card' }, h('h2', {}, h('a', { href: `#/${target}` }, t(`${key}.title`))), h('p', {}, t(`${key}.intro`)));
  show(main, h('h1', {}, t('home.title')), h('p', { class: 'lead' }, t('home.lead')),
    h('ul', { class: 'cards' }, card('check', 'check'), card('market', 'market'), card('verify', 'verify'),
      card(currentSession() ? 'account' : 'signin', currentSession() ? 'account' : 'signin')));
}

export function notFound(main) {
  show(main, h('h1', {}, t('notfound.title')), h('p', {}, h('a', { href: '#/' }, t('notfound.home'))));
}

/// The encumbrance check: free or not, and what burdens the property.
export function check(main, params) {
  const out = h('div', { 'aria-live': 'polite' });
  const input = field(t('check.number'), { name: 'cadastral', id: 'check-number', required: true, autocomplete: 'off', value: params.get('n') ?? '', placeholder: '01-001-001-1' }, t('check.number_hint'));
  const button = h('button', { type: 'submit', id: 'check-submit' }, t('check.submit'));
  const run = async (number) => {
    await busy(button, out, async () => {
      const status = await get(`/v1/properties/${encodeURIComponent(number)}/encumbrances`);
      show(out, h('section', { class: `verdict ${status.isFree ? 'good' : 'bad'}`, id: 'check-result' },
        h('h2', {}, status.isFree ? t('check.free', { number }) : t('check.encumbered', { number })),
        restrictionList(status.restrictions)));
    });
  };
  const form = h('form', { onsubmit: (event) => { event.preventDefault(); const number = form.querySelector('input').value.trim(); history.replaceState(null, '', `#/check?n=${encodeURIComponent(number)}`); run(number); } }, input, button);
  show(main, h('h1', {}, t('check.title')), h('p', {}, t('check.intro')), form, out);
  if (params.get('n')) run(params.get('n'));
}

/// The sales sector: every property listed now, with filters.
export async function market(main, params) {
  const offers = [];
  for await (const page of pages('/v1/offers?limit=500')) {
    offers.push(...page.items);
    if (offers.length >= 5_000) break;
  }
  const regions = [...new Set(offers.map((offer) => offer.cadastralNumber.split('-')[0]))].sort();
  const kinds = [...new Set(offers.map((offer) => offer.kind))].sort();
  const list = h('div', { id: 'offers', 'aria-live': 'polite' });
  const region = field(t('market.region'), { type: 'select', id: 'filter-region', options: [['', t('market.any')], ...regions.map((code) => [code, t('market.region_code', { code })])] });
  const kind = field(t('market.kind'), { type: 'select', id: 'filter-kind', options: [['', t('market.any')], ...kinds.map((name) => [name, kindName(name)])] });
  const minimum = field(t('market.price_min'), { type: 'number', id: 'filter-min', min: 0, step: 1, inputmode: 'numeric' });
  const maximum = field(t('market.price_max'), { type: 'number', id: 'filter-max', min: 0, step: 1, inputmode: 'numeric' });
  const filters = h('form', { class: 'filters', 'aria-label': t('market.filters'), oninput: () => draw(), onsubmit: (event) => { event.preventDefault(); draw(); } }, region, kind, minimum, maximum);
  const value = (wrapper) => wrapper.querySelector('input, select').value;
  function draw() {
    const low = value(minimum) === '' ? 0 : Number(value(minimum)) * 100;
    const high = value(maximum) === '' ? Infinity : Number(value(maximum)) * 100;
    const shown = offers.filter((offer) => (!value(region) || offer.cadastralNumber.startsWith(`${value(region)}-`))
      && (!value(kind) || offer.kind === value(kind)) && offer.price >= low && offer.price <= high);
    show(list, h('p', {}, t('market.count', { count: shown.length })), h('ul', { class: 'offers' }, shown.map((offer) => h('li', { class: 'offer' },
      h('h2', {}, `${kindName(offer.kind)} · ${offer.address}`),
      h('dl', { class: 'facts' },
        h('dt', {}, t('passport.cadastral_number')), h('dd', {}, offer.cadastralNumber),
        h('dt', {}, t('passport.area')), h('dd', {}, area(offer.area)),
        h('dt', {}, t('market.price')), h('dd', { class: 'price' }, money(offer.price)),
        h('dt', {}, t('market.listed')), h('dd', {}, date(offer.listedAt)),
        h('dt', {}, t('passport.encumbrances')), h('dd', {}, offer.encumbered ? h('strong', { class: 'bad-text' }, t('market.encumbered')) : t('market.free'))),
      h('a', { class: 'button', href: `#/buy?n=${encodeURIComponent(offer.cadastralNumber)}`, 'data-buy': offer.cadastralNumber }, t('market.buy', { number: offer.cadastralNumber }))))));
  }
  show(main, h('h1', {}, t('market.title')), h('p', {}, t('market.intro')), filters, list);
  draw();
}

/// Buying a listed property: every term of the deed `sale.buy` opens, then the signature. The
/// listing carries the sellers' consent, so the price is held and paid in the same block.
export async function buy(main, params) {
  const number = params.get('n') ?? '';
  const session = currentSession();
  if (!session) {
    show(main, h('h1', {}, t('buy.title')), notice('info', t('buy.sign_in_first')), h('a', { class: 'button', href: `#/signin?next=${encodeURIComponent(`buy?n=${number}`)}` }, t('nav.signin')));
    return;
  }
  const [offers, status, account] = await Promise.all([
    findOffer(number), get(`/v1/properties/${encodeURIComponent(number)}/encumbrances`), get(`/v1/parties/${encodeURIComponent(session.party)}/account`)]);
  if (!offers) { show(main, h('h1', {}, t('buy.title')), notice('error', t('buy.not_listed', { number }))); return; }
  const offer = offers;
  const { minimumFee } = await get('/v1/status');
  const out = h('div', { 'aria-live': 'polite', id: 'buy-result', tabindex: '-1' });
  const button = h('button', { type: 'button', id: 'buy-sign' }, t('buy.sign', { price: money(offer.price) }));
  button.addEventListener('click', () => busy(button, out, async () => {
    const key = (await storedKeys()).find((record) => record.keyId === session.keyId);
    if (!key) throw { code: 'key.not_in_browser' };
    const answer = await transact(key, 'sale.buy', { cadastralNumber: number, price: offer.price });
    show(out, receiptView(answer), h('p', {}, h('a', { href: '#/account/wallet' }, t('buy.see_wallet'))));
    button.remove();
    out.focus();
  }));
  show(main, h('h1', {}, t('buy.title')),
    h('p', {}, t('buy.intro')),
    h('section', { 'aria-labelledby': 'terms-heading' }, h('h2', { id: 'terms-heading' }, t('buy.terms')),
      h('dl', { class: 'facts terms' },
        h('dt', {}, t('passport.cadastral_number')), h('dd', {}, number),
        h('dt', {}, t('passport.kind')), h('dd', {}, `${kindName(offer.kind)}, ${offer.address}, ${area(offer.area)}`),
        h('dt', {}, t('buy.sellers')), h('dd', {}, h('ul', {}, offer.owners.map((owner) => h('li', {}, `${owner.party} — ${share(owner.share)}`)))),
        h('dt', {}, t('buy.buyer')), h('dd', {}, `${session.party} — ${share('1')}`),
        h('dt', {}, t('market.price')), h('dd', { class: 'price' }, money(offer.price)),
        h('dt', {}, t('buy.fee')), h('dd', {}, money(minimumFee)),
        h('dt', {}, t('buy.hold')), h('dd', {}, t('buy.hold_text', { price: money(offer.price) })),
        h('dt', {}, t('buy.your_balance')), h('dd', {}, t('wallet.available', { amount: money(account.balance) })),
        h('dt', {}, t('passport.encumbrances')), h('dd', {}, restrictionList(status.restrictions)))),
    !status.isFree ? notice('error', t('buy.encumbered_warning')) : null,
    account.balance < offer.price ? notice('error', t('buy.short_of_funds')) : null,
    h('p', { class: 'hint' }, t('buy.ledger_decides')), button, out);
}

/// The verifier: an extract pasted, uploaded or found by its check code, checked in this browser
/// against the genesis validators (the node's genesis file, or one the person gives).
export function verify(main, params) {
  const out = h('div', { 'aria-live': 'polite', id: 'verify-result' });
  const text = field(t('verify.paste'), { type: 'textarea', id: 'verify-text', rows: 6, spellcheck: 'false' });
  const file = field(t('verify.upload'), { type: 'file', id: 'verify-file', accept: '.json,application/json' });
  const code = field(t('verify.code'), { id: 'verify-code', autocomplete: 'off', value: params.get('code') ?? '', pattern: '[0-9a-fA-F]{64}' }, t('verify.code_hint'));
  const genesisFile = field(t('verify.genesis'), { type: 'file', id: 'verify-genesis', accept: '.json,application/json' }, t('verify.genesis_hint'));
  const button = h('button', { type: 'submit', id: 'verify-submit' }, t('verify.submit'));
  const run = () => busy(button, out, async () => {
    const uploaded = await readFile(file.querySelector('input'));
    const pasted = text.querySelector('textarea').value.trim();
    const wanted = code.querySelector('input').value.trim().toLowerCase();
    let extract;
    if (uploaded || pasted) {
      try { extract = JSON.parse(uploaded ?? pasted); } catch { extract = null; }
    } else if (wanted) {
      extract = await get(`/v1/extracts/${encodeURIComponent(wanted)}`);
    } else {
      throw { code: 'verify.nothing' };
    }
    const ownGenesis = await readFile(genesisFile.querySelector('input'));
    const genesis = ownGenesis ? JSON.parse(ownGenesis) : await network();
    const result = extract ? await verifyExtract(extract, genesis) : { valid: false, reason: 'malformed', detail: 'not JSON' };
    show(out, result.valid ? validView(result) : h('section', { class: 'verdict bad' },
      h('h2', {}, t('verify.invalid')), h('p', {}, t(`verify.reason.${result.reason}`)), h('p', { class: 'hint', lang: 'en' }, result.detail)));
  });
  show(main, h('h1', {}, t('verify.title')), h('p', {}, t('verify.intro')),
    h('form', { onsubmit: (event) => { event.preventDefault(); run(); } }, text, file, code, genesisFile, button), out);
  if (params.get('code')) run();
}

function validView(result) {
  const passport = result.passport;
  return h('section', { class: 'verdict good' },
    h('h2', {}, t('verify.valid')),
    h('p', {}, t('verify.valid_text', { number: passport.cadastralNumber, height: result.header.height, chain: result.header.chainId, date: date(result.header.time) })),
    h('p', {}, `${t('passport.owners')}: `, passport.owners.map((owner) => `${owner.party} (${share(owner.share)})`).join(', ')),
    h('p', {}, `${t('passport.encumbrances')}: `, passport.restrictions.length ? t('verify.encumbered', { count: passport.restrictions.length }) : t('encumbrance.none')),
    h('p', { class: 'hash' }, `${t('extract.code')}: ${result.code}`));
}

