// The node's JSON API, as the portal uses it. Every answer that is not 2xx becomes an ApiError
// with the API's stable code, which the page explains in the person's language. Nothing here
// decides a rule: the ledger does, and its refusal is what the person sees.

import { base64, hex, sign } from './keys.js';

export class ApiError extends Error {
  constructor(status, code, detail) { super(detail ?? code); this.status = status; this.code = code; this.detail = detail; }
}

const session = {
  get: () => JSON.parse(sessionStorage.getItem('tamga.session') ?? 'null'),
  set: (value) => (value ? sessionStorage.setItem('tamga.session', JSON.stringify(value)) : sessionStorage.removeItem('tamga.session')),
};

export function currentSession() { return session.get(); }

/// One exchange with the node: the response when it is 2xx, otherwise an ApiError with the API's
/// code (forgetting a session the node no longer knows).
async function send(path, { method = 'GET', body, headers = {}, authorized = true } = {}) {
  const token = session.get()?.token;
  const sent = { ...headers };
  if (authorized && token) sent.Authorization = `Bearer ${token}`;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, 'network.unreachable', String(error));
  }
  if (response.ok) return response;
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch { /* not JSON: reported as the HTTP status */ }
  if (response.status === 401 && (value?.code === 'auth.session_invalid' || value?.code === 'auth.session_revoked')) session.set(null);
  throw new ApiError(response.status, value?.code ?? `http.${response.status}`, value?.detail ?? text.slice(0, 200));
}

/// A JSON answer (null for none).
export async function request(path, options) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  const text = await response.text();
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

/// A source document's bytes (PDF or image), for a session that may read them.
export async function fetchDocument(hash) {
  return (await send(`/v1/documents/${encodeURIComponent(hash)}`)).blob();
}

export const get = (path, options) => request(path, options);

/// Every page of a list the API pages by cursor (`path` already has `?limit=`), first to last;
/// each page's `next` is the next page's `after`.
export async function* pages(path) {
  let after = null;
  do {
    const page = await get(after ? `${path}&after=${encodeURIComponent(after)}` : path);
    yield page;
    after = page.next;
  } while (after);
}

let genesis;
/// The network's genesis file as this node serves it (chain id, validators, parameters).
export async function network() {
  genesis ??= await get('/v1/genesis');
  return genesis;
}

/// Opens a session by signing the node's challenge with `key`, for `party`.
export async function signIn(party, key) {
  const challenge = await request('/v1/auth/challenge', { method: 'POST', body: {}, authorized: false });
  const signature = await sign(key, new TextEncoder().encode(challenge.signText));
  const opened = await request('/v1/auth/session', {
    method: 'POST', authorized: false,
    body: { party, keyId: key.keyId, challenge: challenge.challenge, signature: hex.encode(signature) },
  });
  session.set({ token: opened.token, party: opened.party, roles: opened.roles, keyId: key.keyId });
  return opened;
}

export async function signOut() {
  try { await request('/v1/auth/session', { method: 'DELETE' }); } catch { /* ended already */ }
  session.set(null);
}

/// The payload bytes of a transaction by `signer`: the UTF-8 JSON the ledger reads, with the
/// signer's next nonce, the network's current minimum fee and an hour to be included.
export async function preparePayload(signer, type, body) {
  const [{ chainId, minimumFee }, party] = await Promise.all([get('/v1/status'), get(`/v1/parties/${encodeURIComponent(signer)}`)]);
  const payload = { chainId, signer, nonce: party.nonce + 1, fee: minimumFee, expiresAt: Date.now() + 3_600_000, type, body };
  return new TextEncoder().encode(JSON.stringify(payload));
}

/// Signs payload bytes with each key and submits the envelope, waiting for its block.
export async function submitSigned(payload, signatures) {
  const envelope = { payload: base64.encode(payload), signatures };
  const id = crypto.randomUUID();
  const answer = await request('/v1/transactions?wait=commit', { method: 'POST', body: envelope, headers: { 'Idempotency-Key': id } });
  if (answer.status === 'rejected') {
    throw new ApiError(422, answer.receipt?.rejectionCode ?? 'tx.rejected', answer.receipt?.rejectionMessage);
  }
  if (answer.status === 'dropped') throw new ApiError(503, answer.dropped?.code ?? 'mempool.dropped', answer.dropped?.reason);
  return answer;
}

export async function signature(key, payload) {
  return { keyId: key.keyId, signature: hex.encode(await sign(key, payload)) };
}

/// Builds, signs with `key` and submits one transaction of the signed-in party.
export async function transact(key, type, body, coSigners = []) {
  const party = session.get()?.party;
  if (!party) throw new ApiError(401, 'auth.required');
  const payload = await preparePayload(party, type, body);
  const signatures = [await signature(key, payload)];
  for (const other of coSigners) signatures.push(await signature(other, payload));
  return submitSigned(payload, signatures);
}

/// Follows the party's notification stream (server-sent events over fetch, so that the session
/// goes in a header), calling `onEvent` for each; returns a function that stops it. A stream the
/// node ends (it does every few minutes) is opened again at once from the last event's id; a
/// busy node (429, 503) is asked again after a growing pause; a refused session ends it.
export function follow(party, after, onEvent, onState) {
  const controller = new AbortController();
  (async () => {
    let cursor = after;
    let pause = 2000;
    while (!controller.signal.aborted) {
      try {
        const query = cursor ? `?after=${encodeURIComponent(cursor)}` : '';
        const response = await fetch(`/v1/parties/${encodeURIComponent(party)}/notifications/stream${query}`, {
          headers: { Authorization: `Bearer ${session.get()?.token}` }, signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403) { onState?.('closed'); return; }
        if (!response.ok) throw new ApiError(response.status, 'stream.refused');
        onState?.('live');
        pause = 2000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = message.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
            const id = message.split('\n').find((line) => line.startsWith('id: '));
            if (id) cursor = id.slice(4);
            if (data) onEvent(JSON.parse(data));
          }
        }
        continue;
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      onState?.('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 60_000);
    }
  })();
  return () => controller.abort();
}
