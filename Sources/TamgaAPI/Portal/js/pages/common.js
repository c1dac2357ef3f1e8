// Pieces several pages show: errors, a passport, restrictions, a busy button.

import { currentSession, fetchDocument, pages } from '../api.js';
import { download, h, notice } from '../dom.js';
import { area, date, explain, money, share, t } from '../i18n.js';

/// An error as the person reads it: what happened, what to do, and the node's code for support.
export function failure(error) {
  const { message, code, detail } = explain(error);
  return notice('error', h('p', {}, message), code ? h('p', { class: 'code' }, `${t('error.code')}: ${code}`) : null,
    detail ? h('details', {}, h('summary', {}, t('error.details')), h('p', { lang: 'en' }, detail)) : null);
}

export function kindName(kind) { return t(`kind.${kind}`) === `kind.${kind}` ? kind : t(`kind.${kind}`); }

export function restrictionList(restrictions) {
  if (!restrictions.length) return h('p', { class: 'free' }, t('encumbrance.none'));
  return h('ul', { class: 'restrictions' }, restrictions.map((restriction) => h('li', {},
    h('strong', {}, t(`restriction.${restriction.kind}`)), ' — ',
    t('restriction.held_by', { holder: restriction.holder, since: date(restriction.since) }),
    h('br'), h('span', { class: 'hash' }, `${t('restriction.document')}: ${restriction.documentHash}`))));
}

export function passportView(passport) {
  return h('dl', { class: 'facts' },
    h('dt', {}, t('passport.cadastral_number')), h('dd', {}, passport.cadastralNumber),
    h('dt', {}, t('passport.kind')), h('dd', {}, kindName(passport.kind)),
    h('dt', {}, t('passport.address')), h('dd', {}, passport.address),
    h('dt', {}, t('passport.area')), h('dd', {}, area(passport.area)),
    passport.location ? [h('dt', {}, t('passport.location')), h('dd', {}, `${(passport.location.latitudeMicrodegrees / 1e6).toFixed(6)}, ${(passport.location.longitudeMicrodegrees / 1e6).toFixed(6)}`)] : null,
    h('dt', {}, t('passport.registered')), h('dd', {}, date(passport.registeredAt)),
    h('dt', {}, t('passport.owners')), h('dd', {}, h('ul', {}, passport.owners.map((owner) => h('li', {}, `${owner.party} — ${share(owner.share)}`)))),
    h('dt', {}, t('passport.encumbrances')), h('dd', {}, restrictionList(passport.restrictions)),
    h('dt', {}, t('passport.documents')), h('dd', {}, h('ul', {}, passport.documents.map(documentItem))));
}

const extensions = { 'application/pdf': 'pdf', 'image/png': 'png', 'image/jpeg': 'jpg' };

/// A source document by its hash, with a button that downloads it for a signed-in reader (the
/// node decides who may read it, and says when no node holds it yet).
export function documentItem(hash) {
  if (!currentSession()) return h('li', { class: 'hash' }, hash);
  const out = h('span', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary no-print', 'data-document': hash, 'aria-label': t('document.open_named', { hash: hash.slice(0, 12) }) },
    t('document.open'));
  button.addEventListener('click', () => busy(button, out, async () => {
    const blob = await fetchDocument(hash);
    download(`${hash}.${extensions[blob.type] ?? 'bin'}`, blob, blob.type);
    out.replaceChildren();
  }));
  return h('li', {}, h('span', { class: 'hash' }, hash), ' ', button, out);
}

/// Runs `work` while `button` says it is busy; shows what happened in `out`.
export async function busy(button, out, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  out.replaceChildren(notice('info', t('working')));
  try {
    const result = await work();
    return result;
  } catch (error) {
    out.replaceChildren(failure(error));
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/// What a committed transaction did, from its receipt's events.
export function receiptView(answer) {
  const events = answer?.receipt?.events ?? [];
  return notice('success', h('p', {}, t('tx.committed', { height: answer.height })),
    events.length ? h('ul', {}, events.map((event) => h('li', {}, eventText(event)))) : null);
}

export function eventText(event) {
  const values = { parties: event.parties.join(', '), properties: event.properties.join(', '), amount: event.amount === undefined || event.amount === null ? '' : money(event.amount) };
  const key = `event.${event.kind}`;
  const text = t(key, values);
  return text === key ? `${event.kind} ${values.properties} ${values.amount}`.trim() : text;
}

export { money };

/// The offer for `number`, looked for in every page of offers, or null when it is not listed.
export async function findOffer(number) {
  for await (const page of pages('/v1/offers?limit=500')) {
    const found = page.items.find((offer) => offer.cadastralNumber === number);
    if (found) return found;
  }
  return null;
}
