// Checks a property extract (GET /v1/properties/{n}/extract) in the browser, knowing only the
// network's genesis file: the second, independent implementation of `Extract.verify` and
// `tamga verify`, written from docs/encoding.md and docs/proofs.md. A citizen's browser should not
// have to trust the node that served the extract, so nothing here takes the node's word for a
// hash, a signature or a record.
//
// It uses only WebCrypto (SHA-256 and Ed25519) and standard JavaScript, and runs unchanged in
// Chromium and in Node 20 (`node Tests/portal/proof_test.mjs`).
//
// Failures come back as `{valid: false, reason, code, detail}`. `reason` is one of REASONS (the
// portal translates it); `code` names the exact check, with the Swift code's names where it has
// one (`codec.truncated`, `commit.invalid_signature`, `proof.root_mismatch`, …); `detail` says
// the same in English.

const subtle = globalThis.crypto.subtle;

export const EXTRACT_FORMAT = 'tamga-extract-v1';
export const GENESIS_FORMAT = 'tamga-genesis-v1';

/// Why an extract does not verify, in the order Extract.verify checks.
export const REASONS = Object.freeze({
  malformed: 'malformed',
  wrongChain: 'wrong_chain',
  handoverInvalid: 'handover_invalid',
  commitInvalid: 'commit_invalid',
  proofInvalid: 'proof_invalid',
  passportMismatch: 'passport_mismatch',
});

/// The one-byte hash domains of docs/encoding.md that an extract needs.
const DOMAIN = { stateLeaf: 0x02, stateNode: 0x03, header: 0x04, vote: 0x05, validatorSet: 0x08, commit: 0x09, keyID: 0x0a };

/// The bounds of Sources/TamgaCore/Limits.swift that decoding an extract meets.
const LIMITS = {
  chainIdBytes: 64,
  validators: 150,
  stateProofSiblings: 256,
  cadastralNumberBytes: 23,
  shareDenominator: 1_000_000_000_000n,
  totalPower: 1n << 60n,
};

const ED25519 = { name: 'Ed25519' };
const PRECOMMIT = 2;
const HEADER_VERSION = 1;

/// A refusal: `reason` for the portal, `code` for tests and logs, `detail` for people.
export class VerificationError extends Error {
  constructor(reason, code, detail) {
    super(detail);
    this.reason = reason;
    this.code = code;
    this.detail = detail;
  }
}

const refuse = (reason, code, detail) => { throw new VerificationError(reason, code, detail); };

// ---------------------------------------------------------------------------------------------
// Bytes, hex, base64, UTF-8

const utf8Encoder = new TextEncoder();
// `fatal` refuses invalid UTF-8 as Swift's String(validating:) does; `ignoreBOM` keeps a leading
// U+FEFF instead of silently dropping it, so decoded text always accounts for every byte.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const utf8 = (text) => utf8Encoder.encode(text);

export const toHex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');

/// Hex of either case, as the Swift `Hex.decode` accepts; throws a TypeError otherwise.
export function fromHex(text) {
  if (typeof text !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(text)) throw new TypeError('not hexadecimal');
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/// Standard padded base64 (RFC 4648 §4), or null. `atob` forgives whitespace, missing padding and
/// stray bits in the last character, so the text must also be exactly what encoding the bytes
/// gives back: one byte string has one base64 text, and so one verification code.
export function fromBase64(text) {
  if (typeof text !== 'string') return null;
  let binary;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  if (btoa(binary) !== text) return null;
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export const toBase64 = (bytes) => btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(''));

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

const ZERO_HASH = new Uint8Array(32);
const isZero = (bytes) => bytes.every((byte) => byte === 0);

export async function sha256(bytes) { return new Uint8Array(await subtle.digest('SHA-256', bytes)); }

/// `SHA-256(tag ‖ data…)`: every consensus hash except the untagged key and value hashes.
const tagged = (tag, ...parts) => sha256(concat(Uint8Array.of(tag), ...parts));

// ---------------------------------------------------------------------------------------------
// Strict binary layouts (docs/encoding.md, "Primitives")

/// Reads one layout from bytes it must use completely. Every refusal is `malformed`, with the
/// codec code and message the Swift `ByteReader` gives, prefixed by the layout's name.
class Reader {
  constructor(bytes, layout) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${layout}: expected a Uint8Array`);
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.layout = layout;
    this.offset = 0;
  }

  get remaining() { return this.bytes.length - this.offset; }

  fail(code, message) { refuse(REASONS.malformed, code, `${this.layout}: ${message}`); }
  invalid(field, reason) { this.fail('codec.invalid_value', `${field} is invalid: ${reason}`); }
  tooLong(field, length, limit) { this.fail('codec.length_exceeds_limit', `${field} is ${length} long, more than the limit of ${limit}`); }

  require(count, field) {
    if (count > this.remaining) this.fail('codec.truncated', `input ends inside ${field}: ${count} bytes needed, ${this.remaining} left`);
  }

  take(count, field, read) {
    this.require(count, field);
    const value = read(this.offset);
    this.offset += count;
    return value;
  }

  u8(field) { return this.take(1, field, (at) => this.view.getUint8(at)); }
  u16(field) { return this.take(2, field, (at) => this.view.getUint16(at)); }
  u32(field) { return this.take(4, field, (at) => this.view.getUint32(at)); }
  /// A BigInt: heights, times and powers are u64 and may exceed 2^53.
  u64(field) { return this.take(8, field, (at) => this.view.getBigUint64(at)); }
  fixed(count, field) { return this.take(count, field, (at) => this.bytes.slice(at, at + count)); }
  hash(field) { return this.fixed(32, field); }

  /// A flag is exactly 0 or 1; any other byte would give one value two encodings.
  flag(field) {
    const byte = this.u8(field);
    if (byte > 1) this.invalid(field, `flag byte ${byte} is neither 0 nor 1`);
    return byte === 1;
  }

  /// `str16`: the length is checked against its limit before anything is read.
  str16(field, limit) {
    const length = this.u16(field);
    if (length > limit) this.tooLong(field, length, limit);
    const bytes = this.fixed(length, field);
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      return this.invalid(field, 'not valid UTF-8');
    }
  }

  finish() {
    if (this.remaining !== 0) this.fail('codec.trailing_bytes', `${this.remaining} unexpected bytes after the end of the value`);
  }
}

/// Appends big-endian fields; the inverse of Reader, for sign bytes and for tests.
class Writer {
  constructor() { this.parts = []; }
  integer(size, value) {
    const bytes = new Uint8Array(size);
    const view = new DataView(bytes.buffer);
    if (size === 1) view.setUint8(0, value);
    else if (size === 2) view.setUint16(0, value);
    else if (size === 4) view.setUint32(0, value);
    else view.setBigUint64(0, BigInt(value));
    this.parts.push(bytes);
    return this;
  }
  u8(value) { return this.integer(1, value); }
  u16(value) { return this.integer(2, value); }
  u32(value) { return this.integer(4, value); }
  u64(value) { return this.integer(8, value); }
  fixed(bytes) { this.parts.push(bytes); return this; }
  str16(text) { const bytes = utf8(text); return this.u16(bytes.length).fixed(bytes); }
  bytes() { return concat(...this.parts); }
}

const CHAIN_ID = /^[a-z0-9.-]{1,64}$/;

function readChainId(reader) {
  const text = reader.str16('chain id', LIMITS.chainIdBytes);
  if (text.length === 0) reader.invalid('chain id', `length must be 1 to ${LIMITS.chainIdBytes}`);
  if (!CHAIN_ID.test(text)) reader.invalid('chain id', "only a-z, 0-9, '-' and '.' are allowed");
  return text;
}

// ---------------------------------------------------------------------------------------------
// Block header

const HEADER_HASHES = [
  ['previousBlockHash', 'previous block hash'],
  ['lastCommitHash', 'last commit hash'],
  ['transactionsRoot', 'transactions root'],
  ['evidenceRoot', 'evidence root'],
  ['stateRoot', 'state root'],
  ['validatorSetHash', 'validator set hash'],
];

/// `u16 version ‖ str16 chainId ‖ u64 height ‖ u64 time ‖ 6 × hash ‖ u16 proposer`.
/// Height and time are BigInts; hashes are Uint8Arrays.
export function decodeHeader(bytes) {
  const reader = new Reader(bytes, 'block header');
  const version = reader.u16('version');
  if (version !== HEADER_VERSION) reader.invalid('version', `unsupported header version ${version}`);
  const header = { version, chainId: readChainId(reader), height: reader.u64('height'), time: reader.u64('time') };
  for (const [name, field] of HEADER_HASHES) header[name] = reader.hash(field);
  header.proposer = reader.u16('proposer');
  reader.finish();
  return header;
}

export function encodeHeader(header) {
  const writer = new Writer().u16(header.version ?? HEADER_VERSION).str16(header.chainId).u64(header.height).u64(header.time);
  for (const [name] of HEADER_HASHES) writer.fixed(header[name]);
  return writer.u16(header.proposer).bytes();
}

/// The block hash, `H(0x04 ‖ header)`, of a header's bytes. Decoding is strict, so the bytes an
/// extract carries are exactly the header's encoding.
export const blockHash = (headerBytes) => tagged(DOMAIN.header, headerBytes);

// ---------------------------------------------------------------------------------------------
// Votes and commits

/// `u8 kind ‖ str16 chainId ‖ u64 height ‖ u32 round ‖ opt(hash) blockHash ‖ u64 timestamp ‖ u16 validator`.
export function encodeVote(vote) {
  const writer = new Writer().u8(vote.kind).str16(vote.chainId).u64(vote.height).u32(vote.round);
  if (vote.blockHash) writer.u8(1).fixed(vote.blockHash);
  else writer.u8(0);
  return writer.u64(vote.timestamp).u16(vote.validator).bytes();
}

/// What a validator signs for a vote: `0x05 ‖ vote`.
export const voteSignBytes = (vote) => concat(Uint8Array.of(DOMAIN.vote), encodeVote(vote));

/// `u64 height ‖ u32 round ‖ hash blockHash ‖ u16 count ‖ count × (u16 validator ‖ u64 timestamp ‖ sig)`,
/// at most 150 entries with strictly increasing validators (refused while decoding, as in Swift).
export function decodeCommit(bytes) {
  const reader = new Reader(bytes, 'commit');
  const commit = { height: reader.u64('height'), round: reader.u32('round'), blockHash: reader.hash('block hash'), signatures: [] };
  const count = reader.u16('signature count');
  if (count > LIMITS.validators) reader.tooLong('commit signatures', count, LIMITS.validators);
  for (let index = 0; index < count; index += 1) {
    const validator = reader.u16('validator');
    const last = commit.signatures.at(-1);
    if (last && last.validator >= validator) reader.invalid('commit signatures', 'validator indices must be strictly increasing');
    commit.signatures.push({ validator, timestamp: reader.u64('timestamp'), signature: reader.fixed(64, 'signature') });
  }
  reader.finish();
  return commit;
}

export function encodeCommit(commit) {
  const writer = new Writer().u64(commit.height).u32(commit.round).fixed(commit.blockHash).u16(commit.signatures.length);
  for (const entry of commit.signatures) writer.u16(entry.validator).u64(entry.timestamp).fixed(entry.signature);
  return writer.bytes();
}

/// `H(0x09 ‖ commit)`, the hash the next block's header names.
export const commitHash = (commitBytes) => tagged(DOMAIN.commit, commitBytes);

// ---------------------------------------------------------------------------------------------
// Ed25519 under the pinned rules (docs/encoding.md, "Signatures")

/// L, the order of the base point, little-endian.
const GROUP_ORDER = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');

/// y coordinates (little-endian, sign bit cleared) of the eight points of small order.
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2 (y = p − 1)
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
].map(fromHex);

/// S < L, comparing little-endian numbers from the most significant byte down.
function isBelowGroupOrder(scalar) {
  for (let index = 31; index >= 0; index -= 1) {
    if (scalar[index] !== GROUP_ORDER[index]) return scalar[index] < GROUP_ORDER[index];
  }
  return false;
}

/// Whether y, the low 255 bits, is below p = 2^255 − 19. Only y ≥ 2^255 − 19 has bytes 1…30
/// all 0xff and the top byte 0x7f, so anything else is canonical at once.
function isCanonicalPoint(encoding) {
  if ((encoding[31] & 0x7f) !== 0x7f) return true;
  for (let index = 1; index <= 30; index += 1) if (encoding[index] !== 0xff) return true;
  return encoding[0] < 0xed;
}

function isSmallOrder(encoding) {
  const y = encoding.slice();
  y[31] &= 0x7f;
  return SMALL_ORDER_Y.some((point) => equalBytes(point, y));
}

/// The verdict of docs/encoding.md for one signature: 'valid', or the first rule that fails
/// ('non_canonical_scalar', 'non_canonical_key', 'small_order_key', 'non_canonical_commitment',
/// 'small_order_commitment', 'mismatch'). Rules 1–4 are checked here, before WebCrypto, so that
/// the verdict does not depend on what a browser's library happens to accept for those inputs;
/// the equation itself is left to WebCrypto (BoringSSL in Chromium, as in swift-crypto).
export async function signatureVerdict(publicKey, signature, message) {
  if (publicKey.length !== 32 || signature.length !== 64) throw new TypeError('an Ed25519 key is 32 bytes and a signature 64');
  const commitment = signature.subarray(0, 32);
  if (!isBelowGroupOrder(signature.subarray(32))) return 'non_canonical_scalar';
  if (!isCanonicalPoint(publicKey)) return 'non_canonical_key';
  if (isSmallOrder(publicKey)) return 'small_order_key';
  if (!isCanonicalPoint(commitment)) return 'non_canonical_commitment';
  if (isSmallOrder(commitment)) return 'small_order_commitment';
  let key;
  try {
    key = await subtle.importKey('raw', publicKey, ED25519, false, ['verify']);
  } catch (error) {
    // A browser without Ed25519 cannot check anything: say so rather than call every validator a forger.
    if (error?.name === 'NotSupportedError') throw error;
    return 'mismatch'; // bytes that are not a curve point
  }
  return (await subtle.verify(ED25519, key, signature, message)) ? 'valid' : 'mismatch';
}

// ---------------------------------------------------------------------------------------------
// Validators from the genesis file

/// `ed25519:<64 hex>`, the text form of a public key (hex of either case, as in Swift).
export function parsePublicKey(text) {
  const match = typeof text === 'string' ? /^ed25519:([0-9a-fA-F]{64})$/.exec(text) : null;
  return match ? fromHex(match[1]) : null;
}

/// The key id, `H(0x0a ‖ 0x01 ‖ key)`, of a 32-byte Ed25519 key or its text form.
export function keyId(publicKey) {
  const bytes = typeof publicKey === 'string' ? parsePublicKey(publicKey) : publicKey;
  if (!bytes || bytes.length !== 32) throw new TypeError('not an Ed25519 public key');
  return tagged(DOMAIN.keyID, Uint8Array.of(1), bytes);
}

/// `H(0x08 ‖ u16 count ‖ count × (u8 1 ‖ key ‖ u64 power))`. Extract.verify does not compare it
/// with the header's validatorSetHash (the commit's signatures are what it trusts), so neither
/// does verifyExtract; it is here for the golden vector.
export function validatorSetHash(validators) {
  const writer = new Writer().u16(validators.length);
  for (const validator of validators) writer.u8(1).fixed(validator.publicKey).u64(validator.votingPower);
  return tagged(DOMAIN.validatorSet, writer.bytes());
}

const badGenesis = (code, message) => refuse(REASONS.malformed, `genesis.${code}`, `the genesis file: ${message}`);

/// The chain id and the validator set of a parsed genesis.json, with the checks of
/// `GenesisFile.load` and `ValidatorSet.init`. Validators keep their order in the file: a
/// validator's position is its index in commits. Returns {chainId, validators: [{name,
/// publicKey (bytes), votingPower (BigInt)}], totalPower (BigInt)}.
export function readGenesis(genesis) {
  if (!isPlainObject(genesis)) badGenesis('malformed', 'it is not a JSON object');
  if (genesis.format !== GENESIS_FORMAT) badGenesis('format', `format is ${String(genesis.format)}, expected ${GENESIS_FORMAT}`);
  if (typeof genesis.chainId !== 'string' || !CHAIN_ID.test(genesis.chainId)) badGenesis('chain_id', 'the chain id is not 1 to 64 of a-z, 0-9, - and .');
  const { validators, totalPower } = readValidators(genesis.validators, (message) => badGenesis('validators', message));
  return { chainId: genesis.chainId, validators, totalPower };
}

/// A validator set as JSON lists it (genesis.json, or the state's `validators` record), with the
/// checks of `ValidatorSet.init`; `bad(message)` refuses. Returns {validators, totalPower}.
function readValidators(entries, bad) {
  if (!Array.isArray(entries)) bad('validators is not a list');
  if (entries.length === 0) bad('a validator set needs at least one validator');
  if (entries.length > LIMITS.validators) bad(`${entries.length} validators, more than ${LIMITS.validators}`);
  const seen = new Set();
  let totalPower = 0n;
  const validators = entries.map((entry, index) => {
    const publicKey = parsePublicKey(entry?.publicKey);
    if (!publicKey) bad(`validator ${index}'s public key is not ed25519:<64 hex>`);
    const power = entry.votingPower;
    if (!(typeof power === 'bigint' || Number.isSafeInteger(power)) || power < 0) {
      bad(`validator ${index}'s voting power is not a whole number below 2^53`);
    }
    const votingPower = BigInt(power);
    if (votingPower === 0n) bad(`validator ${index} has no voting power`);
    if (seen.has(toHex(publicKey))) bad(`validator ${index} repeats the key of an earlier validator`);
    seen.add(toHex(publicKey));
    totalPower += votingPower;
    if (totalPower >= LIMITS.totalPower) bad('the total voting power must stay below 2^60');
    return { name: entry.name, publicKey, votingPower };
  });
  return { validators, totalPower };
}

// ---------------------------------------------------------------------------------------------
// Validator-set changes (ValidatorHandover.follow)

const handoverInvalid = (index, code, detail) => refuse(REASONS.handoverInvalid, code, `validator handover ${index}: ${detail}`);

/// Follows an extract's validator handovers from the genesis set: each, in increasing height, is
/// finalized by the set its predecessors lead to and proves the `validators` record in the state
/// its header names; that set governs from the height after the header. Returns the function
/// from a height (BigInt) to its set.
async function followHandovers(handovers, genesisValidators, chainId) {
  const schedule = [{ from: 1n, validators: genesisValidators }];
  const setAt = (height) => schedule.findLast((entry) => entry.from <= height).validators;
  if (handovers === undefined || handovers === null) return setAt;
  if (!Array.isArray(handovers)) malformed('extract.field', "the extract's validatorHandovers is not a list");
  let last = 0n;
  for (const [index, handover] of handovers.entries()) {
    if (!isPlainObject(handover)) handoverInvalid(index, 'handover.malformed', 'it is not an object');
    const bytes = {};
    for (const name of ['header', 'commit', 'record', 'proof']) {
      bytes[name] = isText(handover[name]) ? fromBase64(handover[name]) : null;
      if (!bytes[name]) handoverInvalid(index, 'handover.malformed', `its ${name} is not base64`);
    }
    let header, commit, proof;
    try {
      header = decodeHeader(bytes.header);
      commit = decodeCommit(bytes.commit);
      proof = decodeStateProof(bytes.proof);
    } catch (error) {
      if (error instanceof VerificationError) handoverInvalid(index, 'handover.malformed', error.detail);
      throw error;
    }
    if (header.chainId !== chainId) handoverInvalid(index, 'handover.wrong_chain', `its header is for chain ${header.chainId}`);
    if (header.height <= last || header.height < 1n || header.height >= (1n << 64n) - 3n) {
      handoverInvalid(index, 'handover.out_of_order', 'it is not at a greater height than the one before');
    }
    last = header.height;
    try {
      await verifyCommit(commit, { blockHash: await blockHash(bytes.header), height: header.height, chainId, validators: setAt(header.height) });
      await verifyInclusion(proof, utf8('validators'), bytes.record, header.stateRoot);
    } catch (error) {
      if (error instanceof VerificationError) handoverInvalid(index, `handover.${error.reason}`, error.detail);
      throw error;
    }
    let entries;
    try {
      entries = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.record));
    } catch {
      handoverInvalid(index, 'handover.malformed', 'its validators record is not JSON');
    }
    const { validators } = readValidators(entries, (message) => handoverInvalid(index, 'handover.malformed', `its validators record: ${message}`));
    // Each handover changes the set: a list padded with headers that change nothing would make
    // the verifier check their commits for nothing.
    const current = setAt(header.height + 1n);
    const same = current.length === validators.length && current.every((validator, position) =>
      equalBytes(validator.publicKey, validators[position].publicKey) && validator.votingPower === validators[position].votingPower);
    if (same) handoverInvalid(index, 'handover.no_change', 'it hands over to the set already in force');
    schedule.push({ from: header.height + 1n, validators });
  }
  return setAt;
}

// ---------------------------------------------------------------------------------------------
// Commit verification (Commit.verify)

const commitInvalid = (code, detail) => refuse(REASONS.commitInvalid, code, detail);

/// Checks that `commit` finalizes `blockHash` at `height` (a BigInt) under `validators` (in index
/// order, each {publicKey, votingPower}): every entry's signature is valid for the precommit it
/// stands for, and the signers hold more than two thirds of the power. In Commit.verify's order:
/// height, block hash, then each entry, then the power. Returns {signedPower, totalPower}.
export async function verifyCommit(commit, { blockHash: expectedHash, height, chainId, validators }) {
  if (commit.height !== height) commitInvalid('commit.wrong_height', `the commit is for height ${commit.height}, not ${height}`);
  if (!equalBytes(commit.blockHash, expectedHash)) {
    commitInvalid('commit.wrong_block', `the commit is for block ${toHex(commit.blockHash)}, not ${toHex(expectedHash)}`);
  }
  const totalPower = validators.reduce((sum, validator) => sum + validator.votingPower, 0n);
  let signedPower = 0n;
  let previous = -1;
  for (const entry of commit.signatures) {
    // decodeCommit already refuses this; checked again for commits built in memory, since a
    // repeated validator would count its power twice.
    if (entry.validator <= previous) commitInvalid('commit.unordered', 'validator indices must be strictly increasing');
    previous = entry.validator;
    const validator = validators[entry.validator];
    if (!validator) commitInvalid('commit.unknown_validator', `validator index ${entry.validator} is outside the validator set`);
    // The entry signed the precommit of this commit's height, round and block, under the
    // verifier's chain id: rebuilding it is what ties the signature to this block on this chain.
    const message = voteSignBytes({
      kind: PRECOMMIT, chainId, height: commit.height, round: commit.round, blockHash: commit.blockHash,
      timestamp: entry.timestamp, validator: entry.validator,
    });
    const verdict = await signatureVerdict(validator.publicKey, entry.signature, message);
    if (verdict !== 'valid') {
      commitInvalid('commit.invalid_signature', `the precommit signature of validator ${entry.validator} is invalid (signature.${verdict})`);
    }
    signedPower += validator.votingPower;
  }
  if (!(signedPower * 3n > totalPower * 2n)) {
    commitInvalid('commit.insufficient_power', `precommits carry ${signedPower} of ${totalPower} voting power; more than two thirds are needed`);
  }
  return { signedPower, totalPower };
}

// ---------------------------------------------------------------------------------------------
// State proofs (docs/proofs.md, StateProof.swift)

/// `u16 count ‖ count × hash ‖ u8 terminal (0 empty, 1 leaf) ‖ [hash keyHash ‖ hash valueHash]`.
/// Returns {siblings: [hash], terminal: {kind: 'empty'} | {kind: 'leaf', keyHash, valueHash}}.
export function decodeStateProof(bytes) {
  const reader = new Reader(bytes, 'state proof');
  const count = reader.u16('sibling count');
  if (count > LIMITS.stateProofSiblings) reader.tooLong('siblings', count, LIMITS.stateProofSiblings);
  const siblings = Array.from({ length: count }, () => reader.hash('sibling'));
  const tag = reader.u8('terminal');
  let terminal;
  if (tag === 0) terminal = { kind: 'empty' };
  else if (tag === 1) terminal = { kind: 'leaf', keyHash: reader.hash('leaf key hash'), valueHash: reader.hash('leaf value hash') };
  else reader.invalid('terminal', `unknown terminal ${tag}`);
  reader.finish();
  return { siblings, terminal };
}

export function encodeStateProof(proof) {
  const writer = new Writer().u16(proof.siblings.length);
  for (const sibling of proof.siblings) writer.fixed(sibling);
  if (proof.terminal.kind === 'empty') return writer.u8(0).bytes();
  return writer.u8(1).fixed(proof.terminal.keyHash).fixed(proof.terminal.valueHash).bytes();
}

/// A state-map leaf, `H(0x02 ‖ keyHash ‖ valueHash)`.
export const stateLeafHash = (keyHash, valueHash) => tagged(DOMAIN.stateLeaf, keyHash, valueHash);
/// A state-map inner node, `H(0x03 ‖ left ‖ right)`.
export const stateNodeHash = (left, right) => tagged(DOMAIN.stateNode, left, right);

/// Bit `index` of a key hash, the most significant bit of byte 0 first.
const bitAt = (hash, index) => (hash[index >> 3] >> (7 - (index & 7))) & 1;

function commonPrefixLength(a, b) {
  for (let index = 0; index < 256; index += 1) if (bitAt(a, index) !== bitAt(b, index)) return index;
  return 256;
}

const proofInvalid = (code, detail) => refuse(REASONS.proofInvalid, code, detail);

/// StateProof.verify: checks the proof for `keyHash` against `root`; returns the proven value
/// hash when the key is present, null when the proof shows it absent. Structure is checked
/// before any hash is compared.
export async function verifyStateProof(proof, keyHash, root) {
  const { siblings, terminal } = proof;
  if (siblings.length > LIMITS.stateProofSiblings) {
    proofInvalid('proof.too_many_siblings', `the proof has ${siblings.length} siblings; a key hash has only 256 bits`);
  }
  // A canonical tree never has an empty subtree beside a leaf or beside another empty subtree:
  // such a pair is stored as the leaf alone, one level up.
  if (siblings.length > 0 && isZero(siblings.at(-1))) {
    proofInvalid('proof.non_canonical', 'the proof ends beside an empty subtree, which the tree never stores');
  }
  let current = ZERO_HASH;
  let provenValue = null;
  if (terminal.kind === 'leaf') {
    if (equalBytes(terminal.keyHash, keyHash)) provenValue = terminal.valueHash;
    else if (commonPrefixLength(terminal.keyHash, keyHash) < siblings.length) {
      proofInvalid('proof.leaf_off_path', 'the proof ends at a leaf whose key does not lie on the path of the key asked about');
    }
    current = await stateLeafHash(terminal.keyHash, terminal.valueHash);
  }
  // Fold from the terminal up: where the key's bit is 1 the path went right, so the sibling is on the left.
  for (let depth = siblings.length - 1; depth >= 0; depth -= 1) {
    current = bitAt(keyHash, depth) ? await stateNodeHash(siblings[depth], current) : await stateNodeHash(current, siblings[depth]);
  }
  if (!equalBytes(current, root)) proofInvalid('proof.root_mismatch', 'the proof does not lead to the expected state root');
  return provenValue;
}

/// StateProof.verifyInclusion: `key` (bytes) holds exactly `value` (bytes) in the state with `root`.
export async function verifyInclusion(proof, key, value, root) {
  const provenValue = await verifyStateProof(proof, await sha256(key), root);
  if (!provenValue) proofInvalid('proof.key_absent', 'the proof shows that the key is absent');
  if (!equalBytes(provenValue, await sha256(value))) proofInvalid('proof.value_mismatch', 'the proof is for a different value');
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON of records (docs/encoding.md, "Records"; CanonicalJSON.swift)

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/// Members are sorted by the UTF-8 bytes of their names. JavaScript's own sort compares UTF-16
/// code units, which orders characters above U+FFFF before U+E000…U+FFFF: not the same.
function compareUTF8(a, b) {
  const left = utf8(a);
  const right = utf8(b);
  for (let index = 0; index < Math.min(left.length, right.length); index += 1) {
    if (left[index] !== right[index]) return left[index] - right[index];
  }
  return left.length - right.length;
}

const SHORT_ESCAPES = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

function canonicalString(text) {
  // A lone surrogate has no UTF-8: TextEncoder would quietly write U+FFFD in its place.
  if (!text.isWellFormed()) throw new TypeError('a string holds a lone UTF-16 surrogate');
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0);
    if (SHORT_ESCAPES[code]) out += SHORT_ESCAPES[code];
    else if (code < 0x20) out += `\\u00${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

/// The project's canonical JSON of a parsed JSON value, as a string (its UTF-8 is the record's
/// bytes): sorted members, no whitespace, integers only, the minimal escapes. A number that is not
/// a safe integer is refused: JSON.parse may already have rounded it, so its digits are unknown
/// (pass a BigInt for a larger integer).
export function canonicalJSON(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean': return value ? 'true' : 'false';
    case 'bigint': return value.toString();
    case 'string': return canonicalString(value);
    case 'number':
      if (!Number.isSafeInteger(value)) throw new TypeError(`${value} is not an integer that JSON numbers carry exactly`);
      return String(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
      if (isPlainObject(value)) {
        const members = Object.keys(value).sort(compareUTF8).map((name) => `${canonicalString(name)}:${canonicalJSON(value[name])}`);
        return `{${members.join(',')}}`;
      }
      break;
    default:
      break;
  }
  throw new TypeError(`no canonical JSON for ${typeof value === 'object' ? 'this object' : `a ${typeof value}`}`);
}

// ---------------------------------------------------------------------------------------------
// The passport record (Passport in LedgerRecords.swift)

const CADASTRAL_NUMBER = /^[0-9]{2}-[0-9]{3}-[0-9]{3}-[0-9]{1,6}(?::[0-9]{1,6})?$/;
const PARTY_ID = /^[a-z][a-z0-9-]{1,62}[a-z0-9]$/;
const HASH_HEX = /^[0-9a-fA-F]{64}$/;

export const isCadastralNumber = (text) => typeof text === 'string' && text.length <= LIMITS.cadastralNumberBytes && CADASTRAL_NUMBER.test(text);

const isText = (value) => typeof value === 'string';
const isPartyId = (value) => isText(value) && PARTY_ID.test(value);
const isHash = (value) => isText(value) && HASH_HEX.test(value);
const isUInt64 = (value) => Number.isInteger(value) && value >= 0 && value < 2 ** 64;
const isInt32Within = (limit) => (value) => Number.isInteger(value) && Math.abs(value) <= limit;

function gcd(a, b) {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/// Share(parsing:): "1", or "n/d" in decimal digits with 0 < d, n ≤ d, and d ≤ 10^12 once reduced.
function isShare(value) {
  if (value === '1') return true;
  const match = isText(value) ? /^([0-9]+)\/([0-9]+)$/.exec(value) : null;
  if (!match) return false;
  const [numerator, denominator] = [BigInt(match[1]), BigInt(match[2])];
  if (numerator >= 1n << 64n || denominator >= 1n << 64n || denominator === 0n || numerator > denominator) return false;
  return denominator / gcd(numerator, denominator) <= LIMITS.shareDenominator;
}

const listOf = (isItem) => (value) => Array.isArray(value) && value.every(isItem);
const objectOf = (fields) => (value) => isPlainObject(value) && Object.entries(fields).every(([name, isField]) => isField(value[name]));

// The fields a Passport decodes (JSONDecoder ignores others, as Swift does for records).
const PASSPORT_FIELDS = {
  cadastralNumber: isCadastralNumber,
  kind: isText,
  address: isText,
  area: isUInt64,
  location: (value) => value === undefined || value === null
    || objectOf({ latitudeMicrodegrees: isInt32Within(90_000_000), longitudeMicrodegrees: isInt32Within(180_000_000) })(value),
  owners: listOf(objectOf({ party: isPartyId, share: isShare })),
  restrictions: listOf(objectOf({
    id: isHash, kind: (kind) => kind === 'arrest' || kind === 'pledge', holder: isPartyId, documentHash: isHash, since: isUInt64,
  })),
  documents: listOf(isHash),
  registeredAt: isUInt64,
};

/// The first field that keeps `value` from decoding as a Passport, or null.
export function passportProblem(value) {
  if (!isPlainObject(value)) return 'it is not a JSON object';
  const field = Object.keys(PASSPORT_FIELDS).find((name) => !PASSPORT_FIELDS[name](value[name]));
  return field ? `its ${field} is missing or not valid` : null;
}

const passportMismatch = (code, detail) => refuse(REASONS.passportMismatch, code, detail);

/// The last step of Extract.verify: the proven record decodes as a passport, and the readable
/// passport is that record. Stricter than comparing decoded values: the record's bytes must be
/// exactly the canonical JSON of `passport`, so what the portal shows is what was proven, field
/// for field. Returns the passport parsed from the proven bytes.
function checkPassport(recordBytes, passport) {
  let proven;
  try {
    proven = JSON.parse(utf8Decoder.decode(recordBytes));
  } catch {
    passportMismatch('passport.record_not_json', 'the proven record is not JSON');
  }
  const problem = passportProblem(proven);
  if (problem) passportMismatch('passport.record_not_passport', `the proven record is not a passport: ${problem}`);
  let readable;
  try {
    readable = utf8(canonicalJSON(passport));
  } catch (error) {
    passportMismatch('passport.not_canonical', `the readable passport has no canonical JSON: ${error.message}`);
  }
  if (!equalBytes(readable, recordBytes)) {
    const at = firstDifference(readable, recordBytes);
    passportMismatch('passport.differs', `the readable passport differs from the proven record (from byte ${at} of its canonical JSON)`);
  }
  return proven;
}

function firstDifference(a, b) {
  let index = 0;
  while (index < a.length && index < b.length && a[index] === b[index]) index += 1;
  return index;
}

// ---------------------------------------------------------------------------------------------
// Extracts (Extract.verify)

/// SHA-256 hex of the UTF-8 of header ‖ proof ‖ record, the base64 texts as served: the
/// verification code printed on an extract (Extract.verificationCode).
export async function verificationCode(extract) {
  const { header, proof, record } = extract;
  if (![header, proof, record].every(isText)) throw new TypeError('an extract has header, proof and record texts');
  return toHex(await sha256(utf8(header + proof + record)));
}

const malformed = (code, detail) => refuse(REASONS.malformed, code, detail);

const EXTRACT_TEXTS = ['format', 'chainId', 'cadastralNumber', 'record', 'proof', 'header', 'commit'];

/// The extract's fields, each decoded, in Extract.verify's order: format, cadastral number,
/// base64 (record, proof, header, commit), then the header, commit and proof layouts.
function readExtract(extract) {
  if (!isPlainObject(extract)) malformed('extract.not_object', 'the extract is not a JSON object');
  for (const name of EXTRACT_TEXTS) if (!isText(extract[name])) malformed('extract.field', `the extract's ${name} is missing or not text`);
  if (!Number.isSafeInteger(extract.height) || extract.height < 0) malformed('extract.field', "the extract's height is not a whole number");
  if (!isPlainObject(extract.passport)) malformed('extract.field', "the extract's passport is not an object");
  if (extract.format !== EXTRACT_FORMAT) malformed('extract.format', `format ${extract.format}, expected ${EXTRACT_FORMAT}`);
  if (!isCadastralNumber(extract.cadastralNumber)) malformed('extract.cadastral_number', `cadastral number ${extract.cadastralNumber}`);
  const bytes = {};
  for (const name of ['record', 'proof', 'header', 'commit']) {
    bytes[name] = fromBase64(extract[name]);
    if (!bytes[name]) malformed('extract.base64', `the extract's ${name} is not base64`);
  }
  return {
    record: bytes.record,
    headerBytes: bytes.header,
    header: decodeHeader(bytes.header),
    commit: decodeCommit(bytes.commit),
    proof: decodeStateProof(bytes.proof),
  };
}

async function check(extract, genesis) {
  const { chainId, validators } = readGenesis(genesis);
  const { record, headerBytes, header, commit, proof } = readExtract(extract);
  if (header.chainId !== chainId) refuse(REASONS.wrongChain, 'extract.wrong_chain', `the block header is for chain ${header.chainId}, not the genesis's ${chainId}`);
  if (extract.chainId !== chainId) refuse(REASONS.wrongChain, 'extract.wrong_chain', `the extract is for chain ${extract.chainId}, not the genesis's ${chainId}`);
  if (header.height !== BigInt(extract.height)) malformed('extract.height', `the height ${extract.height} differs from the header's ${header.height}`);
  const setAt = await followHandovers(extract.validatorHandovers, validators, chainId);
  const hash = await blockHash(headerBytes);
  await verifyCommit(commit, { blockHash: hash, height: header.height, chainId, validators: setAt(header.height) });
  await verifyInclusion(proof, utf8(`property/${extract.cadastralNumber}`), record, header.stateRoot);
  const passport = checkPassport(record, extract.passport);
  return {
    header: {
      chainId: header.chainId,
      height: Number(header.height),
      time: Number(header.time),
      hash: toHex(hash),
      stateRoot: toHex(header.stateRoot),
      proposer: header.proposer,
    },
    code: await verificationCode(extract),
    passport,
  };
}

/// Verifies an extract (the parsed JSON of GET /v1/properties/{n}/extract) against the parsed
/// genesis.json, as `tamga verify` does. Resolves to {valid: true, header, code, passport} or
/// {valid: false, reason, code, detail}; never rejects, whatever the input.
export async function verifyExtract(extract, genesis) {
  try {
    return { valid: true, ...(await check(extract, genesis)) };
  } catch (error) {
    if (error instanceof VerificationError) return { valid: false, reason: error.reason, code: error.code, detail: error.detail };
    const cause = error?.name === 'NotSupportedError' ? 'this browser cannot check Ed25519 signatures' : String(error?.message ?? error);
    return { valid: false, reason: REASONS.malformed, code: 'extract.unverifiable', detail: `the extract could not be checked: ${cause}` };
  }
}
