// Keys and signatures: signing in, making or importing a key, my keys on the ledger, adding a
// signature to a request (co-owners, enrollment), and a registrar's enrollment.

import { currentSession, get, network, preparePayload, signIn as openSession, signature, submitSigned, transact } from '../api.js';
import { download, field, h, notice, readFile, show } from '../dom.js';
import { money, t } from '../i18n.js';
import { assignParty, base64, createKey, forgetKey, hex, importKey, keyId, sha256, storedKeys } from '../keys.js';
import { myKey } from './account.js';
import { busy, receiptView } from './common.js';

const after = (params) => `#/${params.get('next') ?? 'account'}`;

async function enter(partyId, record, params, out) {
  await openSession(partyId, record);
  await assignParty(record, partyId);
  out.replaceChildren(notice('success', t('signin.done', { party: partyId })));
  location.hash = after(params);
}

export async function signIn(main, params) {
  const out = h('div', { 'aria-live': 'polite', id: 'signin-result' });
  const kept = await storedKeys();
  const sections = [h('h1', {}, t('signin.title')), h('p', {}, t('signin.intro')), out];

  if (kept.some((record) => record.kept)) {
    sections.push(h('section', { 'aria-labelledby': 'device-heading' }, h('h2', { id: 'device-heading' }, t('signin.on_device')), h('p', {}, t('signin.on_device_intro')),
      h('ul', { class: 'keys' }, kept.filter((record) => record.kept).map((record) => {
        const forget = h('button', { type: 'button', class: 'secondary', 'data-forget': record.keyId, 'aria-label': t('signin.forget_named', { key: record.party ?? record.keyId.slice(0, 12) }) }, t('signin.forget'));
        forget.addEventListener('click', async () => { await forgetKey(record.keyId); location.reload(); });
        return h('li', {}, `${record.party ?? t('signin.no_party')} · ${record.label || ''} `, h('span', { class: 'hash' }, record.keyId.slice(0, 16)), ' ', forget);
      }))));
  }

  if (kept.length) {
    const party = field(t('signin.party'), { id: 'signin-party', autocomplete: 'username', required: true, value: kept.find((record) => record.party)?.party ?? '' });
    const choice = field(t('signin.key'), { type: 'select', id: 'signin-key', options: kept.map((record) => [record.keyId, `${record.party ?? t('signin.no_party')} · ${record.label || record.keyId.slice(0, 12)}`]) });
    const button = h('button', { type: 'submit', id: 'signin-submit' }, t('signin.submit'));
    choice.querySelector('select').addEventListener('change', (event) => {
      const record = kept.find((item) => item.keyId === event.target.value);
      if (record?.party) party.querySelector('input').value = record.party;
    });
    sections.push(h('section', { 'aria-labelledby': 'kept-heading' }, h('h2', { id: 'kept-heading' }, t('signin.kept')),
      h('form', { onsubmit: (event) => { event.preventDefault(); busy(button, out, () => enter(party.querySelector('input').value.trim(), kept.find((record) => record.keyId === choice.querySelector('select').value), params, out)); } }, choice, party, button)));
  }

  const demo = await get('/v1/demo/parties').catch(() => null);
  if (demo?.length) {
    const picker = field(t('signin.demo_party'), { type: 'select', id: 'demo-party', options: demo.map((item) => [item.party, `${item.party} — ${item.roles.map((role) => t(`role.${role}`)).join(', ')}`]) });
    const button = h('button', { type: 'submit', id: 'demo-submit' }, t('signin.demo_submit'));
    sections.push(h('section', { 'aria-labelledby': 'demo-heading', class: 'demo' }, h('h2', { id: 'demo-heading' }, t('signin.demo')), h('p', {}, t('signin.demo_intro')),
      h('form', { onsubmit: (event) => {
        event.preventDefault();
        busy(button, out, async () => {
          const chosen = demo.find((item) => item.party === picker.querySelector('select').value);
          const record = (await storedKeys()).find((item) => item.party === chosen.party)
            ?? await importKey(chosen.keyFile, { party: chosen.party, label: t('signin.demo_label') });
          await enter(chosen.party, record, params, out);
        });
      } }, picker, button)));
  }

  const file = field(t('signin.key_file'), { type: 'file', id: 'import-file', accept: '.key,.json,application/json' }, t('signin.key_file_hint'));
  const passphrase = field(t('signin.passphrase'), { type: 'password', id: 'import-passphrase', autocomplete: 'current-password' }, t('signin.passphrase_hint'));
  const importParty = field(t('signin.party'), { id: 'import-party', autocomplete: 'username', required: true });
  const keepIt = h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'import-keep' }), ' ', h('label', { for: 'import-keep' }, t('signin.keep')));
  const importButton = h('button', { type: 'submit', id: 'import-submit' }, t('signin.import_submit'));
  sections.push(h('section', { 'aria-labelledby': 'import-heading' }, h('h2', { id: 'import-heading' }, t('signin.import')),
    h('form', { onsubmit: (event) => {
      event.preventDefault();
      busy(importButton, out, async () => {
        const text = await readFile(file.querySelector('input'));
        if (!text) throw { code: 'key.no_file' };
        const partyId = importParty.querySelector('input').value.trim();
        const record = await importKey(text, { passphrase: passphrase.querySelector('input').value, party: partyId, keep: keepIt.querySelector('input').checked });
        await enter(partyId, record, params, out);
      });
    } }, file, passphrase, importParty, keepIt, h('p', { class: 'hint' }, t('signin.keep_hint')), importButton)));

  sections.push(newKeySection());
  show(main, ...sections);
}

/// Making a key here: the backup file is downloaded before the key is of any use, and the
/// enrollment request is what the person takes to a registrar.
function newKeySection() {
  const out = h('div', { 'aria-live': 'polite', id: 'newkey-result' });
  const name = field(t('newkey.name'), { id: 'newkey-name', autocomplete: 'name', required: true });
  const passphrase = field(t('newkey.passphrase'), { type: 'password', id: 'newkey-passphrase', autocomplete: 'new-password', minlength: 10, required: true }, t('newkey.passphrase_hint'));
  const button = h('button', { type: 'submit', id: 'newkey-submit' }, t('newkey.submit'));
  return h('section', { 'aria-labelledby': 'newkey-heading' }, h('h2', { id: 'newkey-heading' }, t('newkey.title')), h('p', {}, t('newkey.intro')),
    h('form', { onsubmit: (event) => {
      event.preventDefault();
      busy(button, out, async () => {
        const fullName = name.querySelector('input').value.trim();
        const { record, backup } = await createKey(passphrase.querySelector('input').value, fullName);
        download(`tamga-key-${record.keyId.slice(0, 8)}.backup.json`, backup);
        const request = JSON.stringify({ format: 'tamga-enrollment-request-v1', name: fullName, publicKey: record.publicKey, keyId: record.keyId }, null, 2);
        show(out, notice('success', h('p', {}, t('newkey.done')), h('p', { class: 'hash' }, record.keyId)),
          h('button', { type: 'button', onclick: () => download(`enrollment-${record.keyId.slice(0, 8)}.json`, request) }, t('newkey.download_request')));
      });
    } }, name, passphrase, button), out);
}

/// My keys on the ledger: add one made here (it co-signs its own addition), or revoke one.
export async function myKeys(main) {
  const session = currentSession();
  if (!session) { location.hash = '#/signin?next=account/keys'; return; }
  const record = await get(`/v1/parties/${encodeURIComponent(session.party)}`);
  const kept = await storedKeys();
  const out = h('div', { 'aria-live': 'polite', id: 'keys-result' });
  const passphrase = field(t('newkey.passphrase'), { type: 'password', id: 'addkey-passphrase', autocomplete: 'new-password', minlength: 10 }, t('newkey.passphrase_hint'));
  const addButton = h('button', { type: 'submit', id: 'addkey-submit' }, t('keys.add'));
  const add = () => busy(addButton, out, async () => {
    const { record: fresh, backup } = await createKey(passphrase.querySelector('input').value, session.party);
    download(`tamga-key-${fresh.keyId.slice(0, 8)}.backup.json`, backup);
    const answer = await transact(await myKey(), 'key.add', { publicKey: fresh.publicKey }, [fresh]);
    await assignParty(fresh, session.party);
    show(out, receiptView(answer));
  });
  show(main, h('h1', {}, t('keys.title')), h('p', {}, t('keys.intro')), out,
    h('ul', { class: 'keys' }, record.keys.map((publicKey) => keyLine(publicKey, kept, session, out))),
    h('h2', {}, t('keys.add_title')), h('form', { onsubmit: (event) => { event.preventDefault(); add(); } }, passphrase, addButton));
}

function keyLine(publicKey, kept, session, out) {
  const line = h('li', {}, h('span', { class: 'hash' }, publicKey));
  (async () => {
    const id = await keyId(hex.decode(publicKey.slice('ed25519:'.length)));
    const here = kept.some((record) => record.keyId === id);
    line.append(' ', here ? h('em', {}, id === session.keyId ? t('keys.this_session') : t('keys.in_this_browser')) : '');
    const revoke = h('button', { type: 'button', class: 'secondary', 'data-revoke': id }, t('keys.revoke'));
    revoke.addEventListener('click', () => busy(revoke, out, async () => {
      show(out, receiptView(await transact(await myKey(), 'key.revoke', { keyId: id })));
      if (here && id !== session.keyId) await forgetKey(id);
    }));
    line.append(' ', revoke);
  })();
  return line;
}

/// Adds a signature to a request another signer prepared (a co-owned listing, an enrollment),
/// showing what the payload says first; submits once the person says every signer has signed.
export async function cosign(main) {
  const out = h('div', { 'aria-live': 'polite', id: 'cosign-result' });
  const text = field(t('cosign.request'), { type: 'textarea', id: 'cosign-text', rows: 6, spellcheck: 'false' }, t('cosign.request_hint'));
  const kept = await storedKeys();
  const choice = field(t('signin.key'), { type: 'select', id: 'cosign-key', options: kept.map((record) => [record.keyId, `${record.party ?? t('signin.no_party')} · ${record.label || record.keyId.slice(0, 12)}`]) });
  const readButton = h('button', { type: 'submit', id: 'cosign-read' }, t('cosign.read'));
  let request;
  const read = () => busy(readButton, out, async () => {
    request = JSON.parse(text.querySelector('textarea').value);
    if (request.format !== 'tamga-signature-request-v1') throw { code: 'cosign.not_a_request' };
    const payload = JSON.parse(new TextDecoder().decode(base64.decode(request.payload)));
    const { chainId } = await network();
    if (payload.chainId !== chainId) throw { code: 'tx.wrong_chain' };
    const signButton = h('button', { type: 'button', id: 'cosign-sign' }, t('cosign.sign'));
    const submitButton = h('button', { type: 'button', id: 'cosign-submit', class: 'secondary' }, t('cosign.submit'));
    signButton.addEventListener('click', () => busy(signButton, result, async () => {
      const key = kept.find((record) => record.keyId === choice.querySelector('select').value);
      if (!key) throw { code: 'key.not_in_browser' };
      const bytes = base64.decode(request.payload);
      if (!request.signatures.some((item) => item.keyId === key.keyId)) request.signatures.push(await signature(key, bytes));
      const updated = JSON.stringify(request);
      show(result, notice('success', t('cosign.signed', { count: request.signatures.length })), field(t('cosign.pass_on'), { type: 'textarea', rows: 5, readonly: true, id: 'cosign-updated' }));
      result.querySelector('textarea').value = updated;
    }));
    submitButton.addEventListener('click', () => busy(submitButton, result, async () => show(result, receiptView(await submitSigned(base64.decode(request.payload), request.signatures)))));
    const result = h('div', { 'aria-live': 'polite' });
    show(out, h('section', { class: 'terms' }, h('h2', {}, t('cosign.what', { type: payload.type, signer: payload.signer })),
      summary(payload.body),
      h('details', {}, h('summary', {}, t('cosign.exact')), h('pre', { class: 'payload' }, JSON.stringify(payload, null, 2))),
      h('p', {}, t('cosign.signatures', { count: request.signatures.length, needs: (request.needs ?? []).join(', ') || '—' }))),
    choice, signButton, ' ', submitButton, result);
  });
  show(main, h('h1', {}, t('cosign.title')), h('p', {}, t('cosign.intro')),
    h('form', { onsubmit: (event) => { event.preventDefault(); read(); } }, text, readButton), out);
}

/// The body of a request as a person reads it: amounts in tenge, every other field as it is.
function summary(body) {
  const amounts = new Set(['price', 'amount', 'loanAmount', 'pays']);
  return h('dl', { class: 'facts' }, Object.entries(body).map(([name, value]) => [
    h('dt', {}, t(`field.${name}`) === `field.${name}` ? name : t(`field.${name}`)),
    h('dd', {}, amounts.has(name) && typeof value === 'number' ? money(value) : typeof value === 'object' ? JSON.stringify(value) : String(value))]));
}

/// A registrar enrolls a person from the request their browser made: the registrar signs the
/// enrollment, and the person's own key must co-sign it (cosign), proving they hold it.
export async function enroll(main) {
  const session = currentSession();
  if (!session?.roles?.includes('registrar')) { show(main, h('h1', {}, t('enroll.title')), notice('error', t('error.auth.role_required'))); return; }
  const out = h('div', { 'aria-live': 'polite', id: 'enroll-result' });
  const file = field(t('enroll.request'), { type: 'file', id: 'enroll-file', accept: '.json,application/json' });
  const partyId = field(t('enroll.party'), { id: 'enroll-party', required: true, pattern: '[a-z0-9][a-z0-9.-]{0,62}' }, t('enroll.party_hint'));
  const identity = field(t('enroll.identity'), { id: 'enroll-identity', required: true }, t('enroll.identity_hint'));
  const button = h('button', { type: 'submit', id: 'enroll-submit' }, t('enroll.submit'));
  show(main, h('h1', {}, t('enroll.title')), h('p', {}, t('enroll.intro')),
    h('form', { onsubmit: (event) => {
      event.preventDefault();
      busy(button, out, async () => {
        const request = JSON.parse(await readFile(file.querySelector('input')) ?? 'null');
        if (request?.format !== 'tamga-enrollment-request-v1') throw { code: 'enroll.not_a_request' };
        // Salted, so that nobody who reads the ledger can test identity numbers against it.
        const salt = crypto.getRandomValues(new Uint8Array(32));
        const commitment = hex.encode(await sha256(Uint8Array.from([...salt, ...new TextEncoder().encode(identity.querySelector('input').value.trim())])));
        const payload = await preparePayload(session.party, 'identity.enroll', { party: partyId.querySelector('input').value.trim(), publicKey: request.publicKey, identityCommitment: commitment, name: request.name });
        const signed = JSON.stringify({ format: 'tamga-signature-request-v1', payload: base64.encode(payload), signatures: [await signature(await myKey(), payload)], needs: [request.keyId] });
        show(out, notice('info', h('p', {}, t('enroll.pass_to_person')), h('p', {}, t('enroll.keep_salt'), ' ', h('code', { id: 'enroll-salt' }, hex.encode(salt)))),
          field(t('cosign.request'), { type: 'textarea', rows: 5, readonly: true, id: 'enroll-signed' }));
        out.querySelector('textarea').value = signed;
      });
    } }, file, partyId, identity, button), out);
}

