// The personal account: my properties, wallet, deeds to sign, notifications, and the printable
// extract. Every action is a transaction signed in this browser; the ledger decides.

import { currentSession, follow, get, pages, preparePayload, signature, transact } from '../api.js';
import { download, field, h, notice, show } from '../dom.js';
import { area, date, money, share, t } from '../i18n.js';
import { base64, hex, sha256, storedKeys } from '../keys.js';
import { verificationCode } from '../proof.js';
import { busy, documentItem, eventText, findOffer, kindName, passportView, receiptView, restrictionList } from './common.js';

function requireSession(main) {
  const session = currentSession();
  if (!session) {
    show(main, h('h1', {}, t('account.title')), notice('info', t('account.sign_in_first')), h('a', { class: 'button', href: '#/signin' }, t('nav.signin')));
  }
  return session;
}

export async function myKey() {
  const session = currentSession();
  const key = (await storedKeys()).find((record) => record.keyId === session?.keyId);
  if (!key) throw { code: 'key.not_in_browser' };
  return key;
}

function tabs(current) {
  const items = [['account', 'account.tab.properties'], ['account/wallet', 'account.tab.wallet'], ['account/deeds', 'account.tab.deeds'],
    ['account/notifications', 'account.tab.notifications'], ['account/keys', 'account.tab.keys'], ['cosign', 'account.tab.cosign']];
  if ((currentSession()?.roles ?? []).includes('registrar')) items.push(['account/enroll', 'account.tab.enroll'], ['account/review', 'account.tab.review']);
  return h('nav', { class: 'tabs', 'aria-label': t('account.sections') }, h('ul', {}, items.map(([target, key]) => h('li', {},
    h('a', { href: `#/${target}`, 'aria-current': target === current ? 'page' : undefined }, t(key))))));
}

const party = () => encodeURIComponent(currentSession().party);

export async function overview(main) {
  const session = requireSession(main);
  if (!session) return;
  const { properties } = await get(`/v1/parties/${party()}/properties`);
  const passports = await Promise.all(properties.map((number) => get(`/v1/properties/${encodeURIComponent(number)}`)));
  show(main, h('h1', {}, t('account.title')), tabs('account'),
    h('p', {}, t('account.roles', { party: session.party, roles: session.roles.map((role) => t(`role.${role}`)).join(', ') })),
    h('h2', {}, t('account.my_properties')),
    passports.length ? h('ul', { class: 'offers' }, passports.map((passport) => h('li', { class: 'offer' },
      h('h3', {}, h('a', { href: `#/account/property?n=${encodeURIComponent(passport.cadastralNumber)}` }, `${kindName(passport.kind)} · ${passport.address}`)),
      h('p', {}, `${passport.cadastralNumber} · ${area(passport.area)} · ${t('account.my_share', { share: share(passport.owners.find((owner) => owner.party === session.party)?.share ?? '0') })}`),
      passport.restrictions.length ? h('p', { class: 'bad-text' }, t('market.encumbered')) : null)))
      : h('p', {}, t('account.no_properties')));
}

/// One of my properties: its passport, history, who read it, the sale listing, access codes and
/// the printable extract.
export async function property(main, params) {
  const session = requireSession(main);
  if (!session) return;
  const number = params.get('n');
  const path = `/v1/properties/${encodeURIComponent(number)}`;
  const [passport, history, notes, listing] = await Promise.all([get(path), get(`${path}/history?limit=500`),
    get(`/v1/parties/${party()}/notifications?limit=1`), findOffer(number)]);
  const reads = notes.passportReads.filter((read) => read.cadastralNumber === number);
  const coOwners = passport.owners.filter((owner) => owner.party !== session.party);
  const out = h('div', { 'aria-live': 'polite', id: 'property-result' });

  const price = field(t('sale.price'), { type: 'number', id: 'sale-price', min: 1, step: '0.01', inputmode: 'decimal', required: true }, t('sale.price_hint'));
  const listButton = h('button', { type: 'submit', id: 'sale-list' }, coOwners.length ? t('sale.prepare') : t('sale.list'));
  const listForm = h('form', { onsubmit: (event) => { event.preventDefault(); listProperty(); } }, price, listButton);
  async function listProperty() {
    await busy(listButton, out, async () => {
      const tiyn = Math.round(Number(price.querySelector('input').value) * 100);
      if (!(tiyn > 0)) throw { code: 'sale.bad_price' };
      const key = await myKey();
      if (!coOwners.length) {
        show(out, receiptView(await transact(key, 'sale.list', { cadastralNumber: number, price: tiyn })));
        return;
      }
      // Every co-owner signs the same payload: the request goes to them to add theirs.
      const payload = await preparePayload(session.party, 'sale.list', { cadastralNumber: number, price: tiyn });
      const request = JSON.stringify({ format: 'tamga-signature-request-v1', payload: base64.encode(payload), signatures: [await signature(key, payload)], needs: coOwners.map((owner) => owner.party) });
      show(out, notice('info', t('sale.send_to_coowners', { owners: coOwners.map((owner) => owner.party).join(', ') })),
        field(t('cosign.request'), { type: 'textarea', id: 'signature-request', rows: 5, readonly: true, value: request }));
      out.querySelector('textarea').value = request;
    });
  }
  const withdrawButton = h('button', { type: 'button', id: 'sale-withdraw', class: 'secondary' }, t('sale.withdraw'));
  withdrawButton.addEventListener('click', () => busy(withdrawButton, out, async () => show(out, receiptView(await transact(await myKey(), 'sale.withdraw', { cadastralNumber: number })))));

  const codeButton = h('button', { type: 'button', id: 'code-create' }, t('code.create'));
  codeButton.addEventListener('click', () => busy(codeButton, out, async () => {
    const code = randomCode();
    const salt = crypto.getRandomValues(new Uint8Array(32));
    const codeHash = hex.encode(await sha256(Uint8Array.from([...salt, ...new TextEncoder().encode(code.replaceAll('-', ''))])));
    const answer = await transact(await myKey(), 'property.access_code', { cadastralNumber: number, code: { salt: hex.encode(salt), codeHash } });
    show(out, receiptView(answer), notice('info', h('p', {}, t('code.show_once')), h('p', { class: 'access-code', id: 'access-code' }, code)));
  }));
  const revokeCode = h('button', { type: 'button', id: 'code-revoke', class: 'secondary' }, t('code.revoke'));
  revokeCode.addEventListener('click', () => busy(revokeCode, out, async () => show(out, receiptView(await transact(await myKey(), 'property.access_code', { cadastralNumber: number })))));

  show(main, h('h1', {}, t('property.title', { number })), tabs('account'), passportView(passport),
    h('p', {}, h('a', { class: 'button', href: `#/extract?n=${encodeURIComponent(number)}`, id: 'print-extract' },
      passport.restrictions.length ? t('extract.print') : t('extract.print_certificate'))),
    h('section', { 'aria-labelledby': 'sale-heading' }, h('h2', { id: 'sale-heading' }, t('sale.title')),
      listing ? [h('p', { id: 'listing-state' }, t('sale.listed_at', { price: money(listing.price), date: date(listing.listedAt) })), withdrawButton]
        : [coOwners.length ? h('p', {}, t('sale.coowners', { owners: coOwners.map((owner) => owner.party).join(', ') })) : null, listForm]),
    h('section', { 'aria-labelledby': 'code-heading' }, h('h2', { id: 'code-heading' }, t('code.title')), h('p', {}, t('code.intro')), codeButton, ' ', revokeCode),
    out,
    h('section', { 'aria-labelledby': 'reads-heading' }, h('h2', { id: 'reads-heading' }, t('property.reads')),
      reads.length ? h('ul', {}, reads.map((read) => h('li', {}, t('property.read_by', { reader: readerName(read.reader), date: date(read.at) })))) : h('p', {}, t('property.no_reads'))),
    h('section', { 'aria-labelledby': 'history-heading' }, h('h2', { id: 'history-heading' }, t('property.history')),
      h('ol', { class: 'history' }, history.items.map((event) => h('li', {}, t('history.block', { height: event.height }), ' — ', eventText(event))))));
}

function readerName(reader) {
  return reader === 'access code' ? t('property.reader_code') : reader === 'a wrong access code' ? t('property.reader_wrong_code') : reader;
}

/// 16 characters of RFC 4648 base32 (80 bits), the alphabet `tamga tx access-code` uses, shown in
/// groups of four.
function randomCode() {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const text = Array.from(bytes, (byte) => alphabet[byte % 32]).join('');
  return text.match(/.{4}/g).join('-');
}

export async function wallet(main) {
  const session = requireSession(main);
  if (!session) return;
  const account = await get(`/v1/parties/${party()}/account`);
  const movements = [];
  for await (const page of pages(`/v1/parties/${party()}/notifications?limit=500`)) {
    movements.push(...page.events.filter((event) => event.amount !== undefined && event.amount !== null));
  }
  show(main, h('h1', {}, t('wallet.title')), tabs('account/wallet'),
    h('dl', { class: 'facts', id: 'wallet-figures' },
      h('dt', {}, t('wallet.balance')), h('dd', { id: 'wallet-balance' }, money(account.balance)),
      h('dt', {}, t('wallet.held')), h('dd', { id: 'wallet-held' }, money(account.held))),
    h('p', { class: 'hint' }, t('wallet.held_hint')),
    h('h2', {}, t('wallet.movements')),
    movements.length ? h('table', {}, h('caption', { class: 'visually-hidden' }, t('wallet.movements')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('wallet.block')), h('th', { scope: 'col' }, t('wallet.what')), h('th', { scope: 'col' }, t('wallet.amount')))),
      h('tbody', {}, movements.reverse().map((event) => h('tr', {}, h('td', {}, event.height), h('td', {}, eventText(event)), h('td', { class: 'number' }, money(event.amount))))))
      : h('p', {}, t('wallet.no_movements')));
}

/// What a deed's parties sign: SHA-256 of its terms, computed here from the terms shown, so a
/// node that showed other terms than it holds gets a signature the ledger refuses.
export async function termsHash(deed) {
  let text = `deed|${deed.id}|${deed.cadastralNumber}|${deed.price}`;
  for (const seller of deed.sellers) text += `|s:${seller.party}:${seller.share}`;
  for (const buyer of deed.buyers) text += `|b:${buyer.party}:${buyer.share}:${buyer.pays}`;
  if (deed.financing) text += `|f:${deed.financing.bank}:${deed.financing.amount}:${deed.financing.documentHash}`;
  for (const pledge of deed.acceptedPledges ?? []) text += `|p:${pledge}`;
  if (deed.paymentBank) text += `|o:${deed.paymentBank}`;
  return hex.encode(await sha256(new TextEncoder().encode(text)));
}

export async function deeds(main) {
  const session = requireSession(main);
  if (!session) return;
  const { deeds: open } = await get(`/v1/parties/${party()}/deeds`);
  const statuses = await Promise.all(open.map((deed) => get(`/v1/properties/${encodeURIComponent(deed.cadastralNumber)}/encumbrances`)));
  show(main, h('h1', {}, t('deeds.title')), tabs('account/deeds'), h('p', {}, t('deeds.intro')),
    open.length ? h('ul', { class: 'deeds' }, open.map((deed, index) => deedView(deed, statuses[index], session))) : h('p', { id: 'no-deeds' }, t('deeds.none')));
}

function deedView(deed, status, session) {
  const signed = deed.signedBy.includes(session.party);
  const out = h('div', { 'aria-live': 'polite', tabindex: '-1' });
  const signButton = h('button', { type: 'button', 'data-sign': deed.id, 'aria-label': t('deeds.sign_named', { number: deed.cadastralNumber }) }, t('deeds.sign'));
  signButton.addEventListener('click', () => busy(signButton, out, async () => {
    show(out, receiptView(await transact(await myKey(), 'deed.sign', { deed: deed.id, termsHash: await termsHash(deed) })));
    signButton.remove();
    out.focus();
  }));
  const cancelButton = h('button', { type: 'button', class: 'secondary', 'data-cancel': deed.id, 'aria-label': t('deeds.cancel_named', { number: deed.cadastralNumber }) }, t('deeds.cancel'));
  cancelButton.addEventListener('click', () => busy(cancelButton, out, async () => show(out, receiptView(await transact(await myKey(), 'deed.cancel', { deed: deed.id })))));
  return h('li', { class: 'deed' },
    h('h2', {}, t('deeds.deed_for', { number: deed.cadastralNumber })),
    h('dl', { class: 'facts terms' },
      h('dt', {}, t('deeds.id')), h('dd', { class: 'hash' }, deed.id),
      h('dt', {}, t('buy.sellers')), h('dd', {}, h('ul', {}, deed.sellers.map((seller) => h('li', {}, `${seller.party} — ${share(seller.share)}`)))),
      h('dt', {}, t('deeds.buyers')), h('dd', {}, h('ul', {}, deed.buyers.map((buyer) => h('li', {}, t('deeds.buyer_line', { party: buyer.party, share: share(buyer.share), pays: money(buyer.pays) }))))),
      deed.financing ? [h('dt', {}, t('deeds.financing')), h('dd', {}, t('deeds.financing_line', { bank: deed.financing.bank, amount: money(deed.financing.amount) }),
        h('br'), t('deeds.loan_document'), h('ul', {}, documentItem(deed.financing.documentHash)))] : null,
      (deed.acceptedPledges ?? []).length ? [h('dt', {}, t('deeds.accepted_pledges')), h('dd', {}, h('p', {}, t('deeds.accepted_pledges_text')),
        h('ul', {}, deed.acceptedPledges.map((pledge) => h('li', { class: 'hash' }, pledge))))] : null,
      deed.paymentBank ? [h('dt', {}, t('deeds.payment_bank')), h('dd', { id: `payment-${deed.id}` }, t('deeds.payment_bank_line', { bank: deed.paymentBank }))] : null,
      h('dt', {}, t('market.price')), h('dd', { class: 'price' }, money(deed.price)),
      h('dt', {}, t('deeds.holds')), h('dd', {}, deed.holds.length ? h('ul', {}, deed.holds.map((hold) => h('li', {}, `${hold.party}: ${money(hold.amount)}`))) : t('deeds.no_holds')),
      h('dt', {}, t('deeds.signed_by')), h('dd', {}, deed.signedBy.join(', ') || '—'),
      deed.notaryRequired ? [h('dt', {}, t('deeds.notary')), h('dd', {}, deed.attestedBy ?? t('deeds.notary_waiting'))] : null,
      h('dt', {}, t('deeds.expires')), h('dd', {}, date(deed.expiresAt)),
      h('dt', {}, t('passport.encumbrances')), h('dd', {}, restrictionList(status.restrictions))),
    signed ? h('p', {}, t('deeds.you_signed')) : session.party === deed.paymentBank ? h('p', {}, t('deeds.payment_bank_yours')) : signButton,
    ' ', cancelButton, out);
}

/// A registrar's review of pledges: each pledge proposed or signed, with the property as it is
/// now, the owners who signed and the documents to open; register it or reject it with a reason.
export async function review(main) {
  const session = requireSession(main);
  if (!session) return;
  if (!session.roles.includes('registrar')) { show(main, h('h1', {}, t('review.title')), notice('error', t('error.auth.role_required'))); return; }
  const waiting = [];
  for await (const page of pages('/v1/pledges?limit=100')) waiting.push(...page.items);
  const passports = await Promise.all(waiting.map((pledge) => get(`/v1/properties/${encodeURIComponent(pledge.cadastralNumber)}`)));
  show(main, h('h1', {}, t('review.title')), tabs('account/review'), h('p', {}, t('review.intro')),
    waiting.length ? h('ul', { class: 'deeds', id: 'pledges' }, waiting.map((pledge, index) => pledgeReview(pledge, passports[index])))
      : h('p', { id: 'no-pledges' }, t('review.none')));
}

function pledgeReview(pledge, passport) {
  const out = h('div', { 'aria-live': 'polite', tabindex: '-1' });
  const decide = (button, type, body) => busy(button, out, async () => {
    show(out, receiptView(await transact(await myKey(), type, body)));
    out.focus();
  });
  const register = h('button', { type: 'button', 'data-register': pledge.id, 'aria-label': t('review.register_named', { number: pledge.cadastralNumber }) }, t('review.register'));
  register.addEventListener('click', () => decide(register, 'pledge.register', { pledge: pledge.id }));
  const reason = field(t('review.reason'), { id: `reason-${pledge.id}`, maxlength: 500 }, t('review.reason_hint'));
  const reject = h('button', { type: 'button', class: 'secondary', 'data-reject': pledge.id, 'aria-label': t('review.reject_named', { number: pledge.cadastralNumber }) }, t('review.reject'));
  reject.addEventListener('click', () => {
    const text = reason.querySelector('input').value.trim();
    if (!text) { show(out, notice('error', t('review.reason_needed'))); return; }
    decide(reject, 'pledge.reject', { pledge: pledge.id, reason: text });
  });
  const unsigned = passport.owners.map((owner) => owner.party).filter((owner) => !pledge.signedBy.includes(owner));
  return h('li', { class: 'deed', 'data-pledge': pledge.id },
    h('h2', {}, t('review.pledge_for', { number: pledge.cadastralNumber })),
    h('dl', { class: 'facts' },
      h('dt', {}, t('review.pledge')), h('dd', { class: 'hash' }, pledge.id),
      h('dt', {}, t('review.bank')), h('dd', {}, pledge.bank),
      h('dt', {}, t('review.loan')), h('dd', { class: 'price' }, money(pledge.loanAmount)),
      h('dt', {}, t('review.proposed')), h('dd', {}, date(pledge.createdAt)),
      h('dt', {}, t('passport.owners')), h('dd', {}, h('ul', {}, passport.owners.map((owner) => h('li', {}, `${owner.party} — ${share(owner.share)}`)))),
      h('dt', {}, t('review.signed_by')), h('dd', {}, pledge.signedBy.join(', ') || '—',
        unsigned.length ? h('p', { class: 'bad-text' }, t('review.unsigned', { parties: unsigned.join(', ') })) : null),
      h('dt', {}, t('passport.encumbrances')), h('dd', {}, restrictionList(passport.restrictions)),
      h('dt', {}, t('review.documents')), h('dd', {}, h('ul', {}, pledge.documents.map(documentItem)))),
    register, reason, reject, out);
}

export async function notifications(main) {
  const session = requireSession(main);
  if (!session) return;
  const list = h('ol', { class: 'history', id: 'notifications', reversed: true });
  const state = h('p', { class: 'hint', id: 'stream-state', role: 'status' }, t('notifications.connecting'));
  let first = null;
  let latest = [];
  for await (const page of pages(`/v1/parties/${party()}/notifications?limit=500`)) {
    first ??= page;
    latest = latest.concat(page.events).slice(-500);
  }
  const add = (event) => list.prepend(h('li', {}, t('history.block', { height: event.height }), ' — ', eventText(event)));
  latest.forEach(add);
  show(main, h('h1', {}, t('notifications.title')), tabs('account/notifications'), state,
    h('h2', {}, t('notifications.events')), list,
    h('h2', {}, t('property.reads')),
    first.passportReads.length ? h('ul', {}, first.passportReads.map((read) => h('li', {}, `${read.cadastralNumber}: `, t('property.read_by', { reader: readerName(read.reader), date: date(read.at) })))) : h('p', {}, t('property.no_reads')));
  return follow(session.party, latest.at(-1)?.cursor, add, (value) => { state.textContent = t(`notifications.${value}`); });
}

/// A printable extract (or, with no encumbrance, a non-encumbrance certificate) with its date,
/// verification code and the address where anyone can check it.
export async function printable(main, params) {
  const session = requireSession(main);
  if (!session) return;
  const number = params.get('n');
  const extract = await get(`/v1/properties/${encodeURIComponent(number)}/extract`);
  const code = await verificationCode(extract);
  const passport = extract.passport;
  const header = await blockTime(extract.height);
  const address = `${location.origin}/#/verify?code=${code}`;
  const free = passport.restrictions.length === 0;
  show(main, h('article', { class: 'printable', id: 'extract' },
    h('h1', {}, free ? t('extract.certificate_title') : t('extract.title')),
    h('p', {}, t('extract.as_of', { height: extract.height, chain: extract.chainId, date: date(header) })),
    free ? h('p', { class: 'free' }, t('extract.free_statement', { number })) : null,
    passportView(passport),
    h('h2', {}, t('extract.verification')),
    h('p', {}, `${t('extract.code')}: `, h('code', { id: 'extract-code' }, code)),
    h('p', {}, `${t('extract.address')}: `, h('a', { href: address }, address)),
    h('p', { class: 'hint' }, t('extract.how_to_check'))),
  h('p', { class: 'no-print' }, h('button', { type: 'button', onclick: () => window.print() }, t('extract.print_now')), ' ',
    h('button', { type: 'button', class: 'secondary', onclick: () => download(`extract-${number}.json`, JSON.stringify(extract, null, 2)) }, t('extract.download'))));
}

async function blockTime(height) {
  const block = await get(`/v1/blocks/${height}`);
  return block.header.time;
}
