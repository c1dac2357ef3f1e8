// Tests of the portal's extract verifier (Sources/TamgaAPI/Portal/js/proof.js) in Node 20, with
// no packages: `node Tests/portal/proof_test.mjs`. Prints one line per case and exits non-zero if
// any fails.
//
// 1. The golden vectors of docs/encoding.md (from scripts/encoding_vectors.py and
//    scripts/record_vectors.py), the pinned Ed25519 rules, and the state-proof rules.
// 2. Whole extracts: each fixture in Tests/portal/fixtures verifies, and each kind of tampering
//    fails with its reason. `synthetic_*.json` were made by an independent Python script from the
//    documented layouts; `extract.json` / `genesis.json` are a real devnet's, tested when present.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as proof from '../../Sources/TamgaAPI/Portal/js/proof.js';

const { fromHex, toHex, fromBase64, toBase64, utf8, sha256 } = proof;

const results = [];

async function test(name, body) {
  try {
    await body();
    results.push(true);
    console.log(`ok    ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL  ${name}\n      ${String(error?.stack ?? error).split('\n').join('\n      ')}`);
  }
}

const fill = (byte) => new Uint8Array(32).fill(byte);
const hexEqual = (bytes, hex) => assert.equal(toHex(bytes), hex);

/// Asserts that `promise` rejects with a VerificationError of this reason and code.
async function refuses(promise, reason, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof proof.VerificationError, `not a VerificationError: ${error}`);
    assert.equal(error.reason, reason, error.detail);
    if (code) assert.equal(error.code, code, error.detail);
    return true;
  });
}

const refusesNow = (work, reason, code) => refuses(Promise.resolve().then(work), reason, code);

// ---------------------------------------------------------------------------------------------
// Keys (RFC 8032 §7.1 tests 1 and 2), signing through WebCrypto from the seed

const RFC8032 = {
  seed1: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  key1: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  signature1: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  seed2: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  key2: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
};

const PKCS8_ED25519_PREFIX = fromHex('302e020100300506032b657004220420');

async function signer(seedHex) {
  const pkcs8 = new Uint8Array([...PKCS8_ED25519_PREFIX, ...fromHex(seedHex)]);
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  return async (message) => new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, message));
}

// ---------------------------------------------------------------------------------------------
// Golden vectors of docs/encoding.md

const VECTOR_HEADER = fromHex(
  '0001000a74616d67612d7465737400000000000000070000019ab697e800'
  + [0x11, 0x22, 0x33, 0x44, 0x55, 0x66].map((byte) => toHex(fill(byte))).join('') + '0002',
);

await test('vector: key id of RFC 8032 key 1', async () => {
  hexEqual(await proof.keyId(fromHex(RFC8032.key1)), 'e0a75109a40568e6d1faaecc6c0e00ffb3b9a9f78c6cbb1aff644695c4c9cce7');
  hexEqual(await proof.keyId(`ed25519:${RFC8032.key1.toUpperCase()}`), 'e0a75109a40568e6d1faaecc6c0e00ffb3b9a9f78c6cbb1aff644695c4c9cce7');
});

await test('vector: header decodes field by field, re-encodes to its bytes, and has the block hash', async () => {
  const header = proof.decodeHeader(VECTOR_HEADER);
  assert.equal(header.chainId, 'tamga-test');
  assert.equal(header.height, 7n);
  assert.equal(header.time, 1764000000000n);
  hexEqual(header.previousBlockHash, toHex(fill(0x11)));
  hexEqual(header.stateRoot, toHex(fill(0x55)));
  hexEqual(header.validatorSetHash, toHex(fill(0x66)));
  assert.equal(header.proposer, 2);
  assert.deepEqual(proof.encodeHeader(header), VECTOR_HEADER);
  hexEqual(await proof.blockHash(VECTOR_HEADER), '8b37d36c6a5a16b37a0e100ad7b5db977ee7d88c2d50a5157310b7d487029db4');
});

await test('vector: precommit and nil prevote encodings, and the precommit sign bytes', async () => {
  const precommit = { kind: 2, chainId: 'tamga-test', height: 7n, round: 1, blockHash: fill(0x77), timestamp: 1764000000123n, validator: 3 };
  const expected = `02000a74616d67612d74657374000000000000000700000001${'01' + toHex(fill(0x77))}0000019ab697e87b0003`;
  hexEqual(proof.encodeVote(precommit), expected);
  hexEqual(proof.voteSignBytes(precommit), `05${expected}`);
  const nilPrevote = { kind: 1, chainId: 'tamga-test', height: 7n, round: 0, blockHash: null, timestamp: 1764000000123n, validator: 0 };
  hexEqual(proof.encodeVote(nilPrevote), '01000a74616d67612d74657374000000000000000700000000000000019ab697e87b0000');
});

const VECTOR_VALIDATORS = [
  { publicKey: fromHex(RFC8032.key1), votingPower: 10n },
  { publicKey: fromHex(RFC8032.key2), votingPower: 20n },
];

await test('vector: validator set hash (key 1 power 10, key 2 power 20)', async () => {
  hexEqual(await proof.validatorSetHash(VECTOR_VALIDATORS), 'c705a27531ed7788b8e996ee54d12148086191a5992992e417b3e0b02e3a8d22');
});

/// The vector commit: keys 1 and 2 precommit fill(0x77) at height 7, round 1 (Ed25519 signing is
/// deterministic, so WebCrypto gives the Python's bytes).
async function vectorCommit(entries = [[0, 1764000000100n, RFC8032.seed1], [1, 1764000000200n, RFC8032.seed2]]) {
  const signatures = [];
  for (const [validator, timestamp, seed] of entries) {
    const vote = { kind: 2, chainId: 'tamga-test', height: 7n, round: 1, blockHash: fill(0x77), timestamp, validator };
    signatures.push({ validator, timestamp, signature: await (await signer(seed))(proof.voteSignBytes(vote)) });
  }
  return { height: 7n, round: 1, blockHash: fill(0x77), signatures };
}

const vectorContext = { blockHash: fill(0x77), height: 7n, chainId: 'tamga-test', validators: VECTOR_VALIDATORS };

await test('vector: commit hash; the commit decodes, re-encodes and verifies with all the power', async () => {
  const bytes = proof.encodeCommit(await vectorCommit());
  hexEqual(await proof.commitHash(bytes), 'a7690dae961e2a3ecb9edaf5aec1a4748e3d5bfcd6724c047c1092f774d9d15c');
  const commit = proof.decodeCommit(bytes);
  assert.deepEqual(proof.encodeCommit(commit), bytes);
  assert.deepEqual(await proof.verifyCommit(commit, vectorContext), { signedPower: 30n, totalPower: 30n });
});

await test('commit: quorum is 3 × signed > 2 × total (20 of 30 is not enough, 30 of 30 is)', async () => {
  const onlyKey2 = await vectorCommit([[1, 1764000000200n, RFC8032.seed2]]);
  await refuses(proof.verifyCommit(onlyKey2, vectorContext), 'commit_invalid', 'commit.insufficient_power');
});

await test('commit: wrong height, wrong block, unknown validator, another chain id, a changed timestamp', async () => {
  const commit = await vectorCommit();
  await refuses(proof.verifyCommit(commit, { ...vectorContext, height: 8n }), 'commit_invalid', 'commit.wrong_height');
  await refuses(proof.verifyCommit(commit, { ...vectorContext, blockHash: fill(0x78) }), 'commit_invalid', 'commit.wrong_block');
  await refuses(proof.verifyCommit(commit, { ...vectorContext, validators: VECTOR_VALIDATORS.slice(0, 1) }), 'commit_invalid', 'commit.unknown_validator');
  await refuses(proof.verifyCommit(commit, { ...vectorContext, chainId: 'tamga-other' }), 'commit_invalid', 'commit.invalid_signature');
  const moved = { ...commit, signatures: [{ ...commit.signatures[0], timestamp: 1764000000101n }, commit.signatures[1]] };
  await refuses(proof.verifyCommit(moved, vectorContext), 'commit_invalid', 'commit.invalid_signature');
  const repeated = { ...commit, signatures: [commit.signatures[1], commit.signatures[1]] };
  await refuses(proof.verifyCommit(repeated, vectorContext), 'commit_invalid', 'commit.unordered');
});

await test('commit decoding: strictly increasing validators, at most 150 entries, no trailing bytes', async () => {
  const commit = await vectorCommit();
  const swapped = proof.encodeCommit({ ...commit, signatures: [commit.signatures[1], commit.signatures[0]] });
  await refusesNow(() => proof.decodeCommit(swapped), 'malformed', 'codec.invalid_value');
  const tooMany = proof.encodeCommit({ ...commit, signatures: [] });
  tooMany.set([0, 151], tooMany.length - 2);
  await refusesNow(() => proof.decodeCommit(tooMany), 'malformed', 'codec.length_exceeds_limit');
  const bytes = proof.encodeCommit(commit);
  await refusesNow(() => proof.decodeCommit(new Uint8Array([...bytes, 0])), 'malformed', 'codec.trailing_bytes');
  await refusesNow(() => proof.decodeCommit(bytes.slice(0, -1)), 'malformed', 'codec.truncated');
});

await test('header decoding: version, chain id rules, truncation, trailing bytes', async () => {
  const version2 = VECTOR_HEADER.slice();
  version2[1] = 2;
  await refusesNow(() => proof.decodeHeader(version2), 'malformed', 'codec.invalid_value');
  const upperCase = VECTOR_HEADER.slice();
  upperCase[4] = 0x54; // 'T'
  await refusesNow(() => proof.decodeHeader(upperCase), 'malformed', 'codec.invalid_value');
  const tooLong = VECTOR_HEADER.slice();
  tooLong.set([0, 65], 2);
  await refusesNow(() => proof.decodeHeader(tooLong), 'malformed', 'codec.length_exceeds_limit');
  await refusesNow(() => proof.decodeHeader(VECTOR_HEADER.slice(0, -1)), 'malformed', 'codec.truncated');
  await refusesNow(() => proof.decodeHeader(new Uint8Array([...VECTOR_HEADER, 0])), 'malformed', 'codec.trailing_bytes');
});

// ---------------------------------------------------------------------------------------------
// The pinned Ed25519 rules

const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const littleEndian = (number) => Uint8Array.from({ length: 32 }, (_, index) => Number((number >> BigInt(8 * index)) & 0xffn));
const fromLittleEndian = (bytes) => bytes.reduceRight((number, byte) => (number << 8n) | BigInt(byte), 0n);

await test('signatures: RFC 8032 test 1 is valid; S + L, S = L, small-order and non-canonical keys and R are refused', async () => {
  const key = fromHex(RFC8032.key1);
  const signature = fromHex(RFC8032.signature1);
  const empty = new Uint8Array();
  assert.equal(await proof.signatureVerdict(key, signature, empty), 'valid');
  assert.equal(await proof.signatureVerdict(key, signature, Uint8Array.of(0)), 'mismatch');
  const withS = (s) => new Uint8Array([...signature.subarray(0, 32), ...littleEndian(s)]);
  const s = fromLittleEndian(signature.subarray(32));
  assert.equal(await proof.signatureVerdict(key, withS(s + GROUP_ORDER), empty), 'non_canonical_scalar');
  assert.equal(await proof.signatureVerdict(key, withS(GROUP_ORDER), empty), 'non_canonical_scalar');
  const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
  const identityWithSign = identity.slice();
  identityWithSign[31] |= 0x80;
  const yIsP = littleEndian(2n ** 255n - 19n);
  const yIsPPlus2 = littleEndian(2n ** 255n - 17n);
  const allOnes = littleEndian(2n ** 255n - 1n);
  assert.equal(await proof.signatureVerdict(identity, new Uint8Array([...identity, ...new Uint8Array(32)]), utf8('any')), 'small_order_key');
  assert.equal(await proof.signatureVerdict(identityWithSign, signature, empty), 'small_order_key');
  assert.equal(await proof.signatureVerdict(yIsP, signature, empty), 'non_canonical_key');
  assert.equal(await proof.signatureVerdict(yIsPPlus2, signature, empty), 'non_canonical_key');
  assert.equal(await proof.signatureVerdict(allOnes, signature, empty), 'non_canonical_key');
  const withR = (r) => new Uint8Array([...r, ...signature.subarray(32)]);
  assert.equal(await proof.signatureVerdict(key, withR(identity), empty), 'small_order_commitment');
  assert.equal(await proof.signatureVerdict(key, withR(yIsPPlus2), empty), 'non_canonical_commitment');
});

// ---------------------------------------------------------------------------------------------
// State proofs

const A = { key: utf8('party/bank-1'), value: utf8('A') };
const B = { key: utf8('party/court-1'), value: utf8('B') };

async function leaf(record) { return proof.stateLeafHash(await sha256(record.key), await sha256(record.value)); }

await test('vector: state roots of {party/bank-1 → A} and of that plus {party/court-1 → B}', async () => {
  const [leafA, leafB] = [await leaf(A), await leaf(B)];
  hexEqual(leafA, 'b6ae69bd3f35d0427ed945eee67771c21377b820d88f6d38eb3cc18456811772');
  // The two key hashes differ in their first bit: the one whose bit is 0 is on the left.
  const aFirst = ((await sha256(A.key))[0] >> 7) === 0;
  hexEqual(await proof.stateNodeHash(aFirst ? leafA : leafB, aFirst ? leafB : leafA), 'e67d38ffdda3f9143ba1564aa3bc64821cdf6e9846f5a5fae5dfda721ad754f7');
});

await test('state proofs: inclusion in both vector trees, and every refusal of docs/proofs.md', async () => {
  const rootA = fromHex('b6ae69bd3f35d0427ed945eee67771c21377b820d88f6d38eb3cc18456811772');
  const rootAB = fromHex('e67d38ffdda3f9143ba1564aa3bc64821cdf6e9846f5a5fae5dfda721ad754f7');
  const [keyA, keyB] = [await sha256(A.key), await sha256(B.key)];
  const leafOf = (keyHash, value) => ({ kind: 'leaf', keyHash, valueHash: value });
  const aAlone = { siblings: [], terminal: leafOf(keyA, await sha256(A.value)) };
  const aBesideB = { siblings: [await leaf(B)], terminal: aAlone.terminal };
  await proof.verifyInclusion(aAlone, A.key, A.value, rootA);
  await proof.verifyInclusion(aBesideB, A.key, A.value, rootAB);
  // Round trip through the layout.
  assert.deepEqual(proof.decodeStateProof(proof.encodeStateProof(aBesideB)), aBesideB);
  await refuses(proof.verifyInclusion(aBesideB, A.key, utf8('B'), rootAB), 'proof_invalid', 'proof.value_mismatch');
  await refuses(proof.verifyInclusion(aBesideB, A.key, A.value, rootA), 'proof_invalid', 'proof.root_mismatch');
  await refuses(proof.verifyInclusion({ siblings: [fill(9)], terminal: aAlone.terminal }, A.key, A.value, rootAB), 'proof_invalid', 'proof.root_mismatch');
  await refuses(proof.verifyInclusion({ ...aBesideB, siblings: [...aBesideB.siblings, fill(0)] }, A.key, A.value, rootAB), 'proof_invalid', 'proof.non_canonical');
  await refuses(proof.verifyInclusion({ siblings: [await leaf(B)], terminal: { kind: 'empty' } }, A.key, A.value, rootAB), 'proof_invalid', 'proof.root_mismatch');
  // B's proof presented for A: B's leaf does not share A's first bit, so it is off A's path.
  const bBesideA = { siblings: [await leaf(A)], terminal: leafOf(keyB, await sha256(B.value)) };
  await refuses(proof.verifyInclusion(bBesideA, A.key, A.value, rootAB), 'proof_invalid', 'proof.leaf_off_path');
  // A genuine proof that some key is absent: the tree {A} proves that B is not there.
  assert.equal(await proof.verifyStateProof(aAlone, keyB, rootA), null);
  await refuses(proof.verifyInclusion(aAlone, B.key, B.value, rootA), 'proof_invalid', 'proof.key_absent');
  const deep = { siblings: Array.from({ length: 257 }, () => fill(1)), terminal: { kind: 'empty' } };
  await refuses(proof.verifyStateProof(deep, keyA, rootA), 'proof_invalid', 'proof.too_many_siblings');
});

await test('state proof decoding: at most 256 siblings, terminal 0 or 1, every byte used', async () => {
  const over = new Uint8Array(2 + 257 * 32 + 1);
  over.set([1, 1]);
  await refusesNow(() => proof.decodeStateProof(over), 'malformed', 'codec.length_exceeds_limit');
  await refusesNow(() => proof.decodeStateProof(Uint8Array.of(0, 0, 2)), 'malformed', 'codec.invalid_value');
  await refusesNow(() => proof.decodeStateProof(Uint8Array.of(0, 0, 0, 0)), 'malformed', 'codec.trailing_bytes');
  await refusesNow(() => proof.decodeStateProof(Uint8Array.of(0, 0, 1)), 'malformed', 'codec.truncated');
  assert.deepEqual(proof.decodeStateProof(Uint8Array.of(0, 0, 0)), { siblings: [], terminal: { kind: 'empty' } });
});

// ---------------------------------------------------------------------------------------------
// Canonical JSON and base64

const hashHex = async (text) => toHex(await sha256(utf8(text)));

await test('vector: canonical JSON of the listing (a u64 as BigInt) and of record_vectors.py\'s passport and party', async () => {
  const listing = { price: 18446744073709551615n, owners: [{ share: '1', party: 'citizen-1' }], listedAt: 1764000001000, cadastralNumber: '01-001-001-1' };
  const listingText = proof.canonicalJSON(listing);
  assert.equal(listingText, '{"cadastralNumber":"01-001-001-1","listedAt":1764000001000,"owners":[{"party":"citizen-1","share":"1"}],"price":18446744073709551615}');
  assert.equal(await hashHex(listingText), '72c47e2d4f0f4359a5e9ae5e4ac5b7ba647f6f121e9c7ae447fe33ca6c28fd75');
  const passport = {
    cadastralNumber: '01-001-001-1', kind: 'apartment', address: 'Astana, Kabanbay batyr 8, кв. 12',
    area: 8450, location: { latitudeMicrodegrees: 51128207, longitudeMicrodegrees: -71430411 },
    owners: [{ party: 'citizen-1', share: '999999999999/1000000000000' }, { party: 'citizen-2', share: '1/1000000000000' }],
    restrictions: [{ id: await hashHex('arrest'), kind: 'arrest', holder: 'bailiff-1', documentHash: await hashHex('order'), since: 1764000000000 }],
    documents: [await hashHex('title'), await hashHex('order')], registeredAt: 1764000000000,
  };
  assert.equal(await hashHex(proof.canonicalJSON(passport)), '09202570437190d41ef27a1175bbc034b688334700c12677d5172169dd219cd3');
  assert.equal(proof.passportProblem(passport), null);
  const party = {
    id: 'citizen-4', roles: ['citizen'], keys: [], identityCommitment: await hashHex('iin'),
    name: 'Quote " backslash \\ newline \n tab \t bell \u0007 unit \u001f Әлия / ok',
  };
  assert.equal(await hashHex(proof.canonicalJSON(party)), '8834271db4ff526170946936923a143a0e37ebd2d4696241bbe8c023cc58eba0');
});

await test('canonical JSON: names sorted by UTF-8 bytes (not UTF-16), escapes, refusals', async () => {
  assert.equal(proof.canonicalJSON({ '\u{10000}': 1, '\uE000': 2, b: 3, a: [true, false, null] }), '{"a":[true,false,null],"b":3,"\uE000":2,"\u{10000}":1}');
  assert.equal(proof.canonicalJSON('\u0000\u0008\u000c\u001f\u007f/"'), '"\\u0000\\b\\f\\u001f\u007f/\\""');
  assert.equal(proof.canonicalJSON(-5), '-5');
  assert.throws(() => proof.canonicalJSON(1.5), TypeError);
  assert.throws(() => proof.canonicalJSON(2 ** 53), TypeError);
  assert.throws(() => proof.canonicalJSON('\ud800'), TypeError);
  assert.throws(() => proof.canonicalJSON({ a: undefined }), TypeError);
});

await test('base64: only the canonical padded text of some bytes', async () => {
  assert.deepEqual(fromBase64('QUI='), utf8('AB'));
  assert.deepEqual(fromBase64(''), new Uint8Array());
  for (const text of ['QUI', 'QUJ=', 'Q UI=', 'QUI=\n', 'QU=I', 'QUI==', '-_8=', null]) assert.equal(fromBase64(text), null, `${text}`);
});

// ---------------------------------------------------------------------------------------------
// Whole extracts: a fixture verifies, and each kind of tampering fails with its reason

const FIXTURES = new URL('./fixtures/', import.meta.url);
const readJSON = (name) => JSON.parse(fs.readFileSync(new URL(name, FIXTURES), 'utf8'));
const clone = (value) => structuredClone(value);

/// Applies `change` to a copy of the decoded base64 field and encodes it again.
function withBytes(extract, field, change) {
  const copy = clone(extract);
  const bytes = fromBase64(copy[field]);
  copy[field] = toBase64(change(bytes) ?? bytes);
  return copy;
}

const flip = (index) => (bytes) => { bytes[index] ^= 0x01; };

async function expectReason(extract, genesis, reason, code) {
  const result = await proof.verifyExtract(extract, genesis);
  assert.equal(result.valid, false, 'the tampered extract verified');
  assert.equal(result.reason, reason, `${result.code}: ${result.detail}`);
  if (code) assert.equal(result.code, code, result.detail);
  assert.equal(typeof result.detail, 'string');
}

async function testFixture(label, extractFile, genesisFile) {
  if (!fs.existsSync(new URL(extractFile, FIXTURES)) || !fs.existsSync(new URL(genesisFile, FIXTURES))) {
    console.log(`skip  ${label}: Tests/portal/fixtures/${extractFile} or ${genesisFile} is not there`);
    return;
  }
  const extract = readJSON(extractFile);
  const genesis = readJSON(genesisFile);
  const commit = proof.decodeCommit(fromBase64(extract.commit));
  const signers = commit.signatures.map((entry) => entry.validator);
  const name = (text) => `${label}: ${text}`;

  await test(name('verifies, with the header, verification code and passport'), async () => {
    const result = await proof.verifyExtract(extract, genesis);
    assert.equal(result.valid, true, `${result.reason} ${result.code}: ${result.detail}`);
    const headerBytes = fromBase64(extract.header);
    const header = proof.decodeHeader(headerBytes);
    assert.deepEqual(result.header, {
      chainId: genesis.chainId, height: extract.height, time: Number(header.time), hash: toHex(await proof.blockHash(headerBytes)),
      stateRoot: toHex(header.stateRoot), proposer: header.proposer,
    });
    assert.equal(result.code, await proof.verificationCode(extract));
    assert.equal(result.code, toHex(await sha256(utf8(extract.header + extract.proof + extract.record))));
    assert.deepEqual(result.passport, extract.passport);
    assert.equal(proof.canonicalJSON(result.passport), new TextDecoder().decode(fromBase64(extract.record)));
  });

  await test(name('verifies with the passport\'s members in another order (compared canonically)'), async () => {
    const copy = clone(extract);
    copy.passport = Object.fromEntries(Object.entries(copy.passport).reverse());
    assert.equal((await proof.verifyExtract(copy, genesis)).valid, true);
  });

  await test(name('a changed passport field → passport_mismatch'), async () => {
    const owner = clone(extract);
    owner.passport.owners[0].party = 'citizen-9';
    await expectReason(owner, genesis, 'passport_mismatch', 'passport.differs');
    const area = clone(extract);
    area.passport.area += 1;
    await expectReason(area, genesis, 'passport_mismatch', 'passport.differs');
    const freed = clone(extract);
    freed.passport.restrictions = [];
    if (extract.passport.restrictions.length > 0) await expectReason(freed, genesis, 'passport_mismatch', 'passport.differs');
    const extra = clone(extract);
    extra.passport.note = 'free of encumbrances';
    await expectReason(extra, genesis, 'passport_mismatch', 'passport.differs');
    const fractional = clone(extract);
    fractional.passport.area += 0.5;
    await expectReason(fractional, genesis, 'passport_mismatch', 'passport.not_canonical');
  });

  await test(name('a flipped byte in the record → proof_invalid (the proof is checked before the passport)'), async () => {
    const length = fromBase64(extract.record).length;
    await expectReason(withBytes(extract, 'record', flip(Math.floor(length / 2))), genesis, 'proof_invalid', 'proof.value_mismatch');
  });

  await test(name('a flipped byte in a commit signature (R or S) → commit_invalid'), async () => {
    // The first entry's signature starts after height, round, block hash, count, validator and timestamp.
    const signatureStart = 8 + 4 + 32 + 2 + 2 + 8;
    await expectReason(withBytes(extract, 'commit', flip(signatureStart + 5)), genesis, 'commit_invalid', 'commit.invalid_signature');
    await expectReason(withBytes(extract, 'commit', flip(signatureStart + 40)), genesis, 'commit_invalid', 'commit.invalid_signature');
  });

  await test(name('a changed precommit timestamp or round in the commit → commit_invalid'), async () => {
    await expectReason(withBytes(extract, 'commit', flip(8 + 4 + 32 + 2 + 2 + 7)), genesis, 'commit_invalid', 'commit.invalid_signature');
    await expectReason(withBytes(extract, 'commit', flip(8 + 3)), genesis, 'commit_invalid', 'commit.invalid_signature');
  });

  await test(name('another chain id in genesis, or in the extract → wrong_chain'), async () => {
    await expectReason(extract, { ...clone(genesis), chainId: 'tamga-elsewhere' }, 'wrong_chain');
    await expectReason({ ...clone(extract), chainId: 'tamga-elsewhere' }, genesis, 'wrong_chain');
  });

  await test(name('a signing validator removed from genesis → commit_invalid'), async () => {
    // With a single validator, removing it leaves no validator set at all: a malformed genesis.
    if (genesis.validators.length === 1) return expectReason(extract, { ...clone(genesis), validators: [] }, 'malformed', 'genesis.validators');
    for (const signer of [signers[0], signers.at(-1)]) {
      const fewer = clone(genesis);
      fewer.validators.splice(signer, 1);
      await expectReason(extract, fewer, 'commit_invalid');
    }
  });

  await test(name('a signing validator\'s key changed in genesis → commit_invalid'), async () => {
    const changed = clone(genesis);
    changed.validators[signers[0]].publicKey = `ed25519:${RFC8032.key1}`;
    await expectReason(extract, changed, 'commit_invalid', 'commit.invalid_signature');
  });

  await test(name('signers without more than two thirds of the power → commit_invalid'), async () => {
    const heavier = clone(genesis);
    const signed = signers.reduce((sum, index) => sum + genesis.validators[index].votingPower, 0);
    // Appended last, so no index moves: the same signatures, now a minority.
    heavier.validators.push({ name: 'newcomer', publicKey: `ed25519:${RFC8032.key2}`, votingPower: 2 * signed });
    await expectReason(extract, heavier, 'commit_invalid', 'commit.insufficient_power');
  });

  await test(name('a changed header (state root) → commit_invalid: the commit is for another block'), async () => {
    const header = proof.decodeHeader(fromBase64(extract.header));
    const copy = clone(extract);
    copy.header = toBase64(proof.encodeHeader({ ...header, stateRoot: await sha256(Uint8Array.of(1)) }));
    await expectReason(copy, genesis, 'commit_invalid', 'commit.wrong_block');
  });

  await test(name('a truncated header, or trailing bytes after it → malformed'), async () => {
    await expectReason(withBytes(extract, 'header', (bytes) => bytes.slice(0, -1)), genesis, 'malformed', 'codec.truncated');
    await expectReason(withBytes(extract, 'header', (bytes) => new Uint8Array([...bytes, 0])), genesis, 'malformed', 'codec.trailing_bytes');
  });

  await test(name('an extra trailing byte in the proof, or in the commit → malformed'), async () => {
    await expectReason(withBytes(extract, 'proof', (bytes) => new Uint8Array([...bytes, 0])), genesis, 'malformed', 'codec.trailing_bytes');
    await expectReason(withBytes(extract, 'commit', (bytes) => new Uint8Array([...bytes, 0])), genesis, 'malformed', 'codec.trailing_bytes');
  });

  await test(name('a commit entry repeated → malformed (decoding requires increasing validators)'), async () => {
    const repeated = proof.encodeCommit({ ...commit, signatures: [commit.signatures[0], ...commit.signatures] });
    await expectReason({ ...clone(extract), commit: toBase64(repeated) }, genesis, 'malformed', 'codec.invalid_value');
  });

  await test(name('a zero sibling appended to the proof, or the proof\'s terminal emptied → proof_invalid'), async () => {
    const stateProof = proof.decodeStateProof(fromBase64(extract.proof));
    const zero = proof.encodeStateProof({ ...stateProof, siblings: [...stateProof.siblings, fill(0)] });
    await expectReason({ ...clone(extract), proof: toBase64(zero) }, genesis, 'proof_invalid', 'proof.non_canonical');
    const empty = proof.encodeStateProof({ ...stateProof, terminal: { kind: 'empty' } });
    await expectReason({ ...clone(extract), proof: toBase64(empty) }, genesis, 'proof_invalid');
  });

  await test(name('the proof presented for another property → proof_invalid'), async () => {
    const other = extract.cadastralNumber.replace(/[0-9]$/, (digit) => String((Number(digit) + 1) % 10));
    await expectReason({ ...clone(extract), cadastralNumber: other }, genesis, 'proof_invalid');
  });

  await test(name('format, height, cadastral number, base64 → malformed'), async () => {
    await expectReason({ ...clone(extract), format: 'tamga-extract-v2' }, genesis, 'malformed', 'extract.format');
    await expectReason({ ...clone(extract), height: extract.height + 1 }, genesis, 'malformed', 'extract.height');
    await expectReason({ ...clone(extract), cadastralNumber: '1-1-1-1' }, genesis, 'malformed', 'extract.cadastral_number');
    await expectReason({ ...clone(extract), header: extract.header.replace(/=+$/, '') + (extract.header.endsWith('=') ? '' : '!') }, genesis, 'malformed', 'extract.base64');
    await expectReason({ ...clone(extract), record: ` ${extract.record}` }, genesis, 'malformed', 'extract.base64');
  });

  await test(name('bad genesis files → malformed, and nothing ever throws'), async () => {
    await expectReason(extract, { ...clone(genesis), format: 'tamga-genesis-v0' }, 'malformed', 'genesis.format');
    const zeroPower = clone(genesis);
    zeroPower.validators[0].votingPower = 0;
    await expectReason(extract, zeroPower, 'malformed', 'genesis.validators');
    const duplicate = clone(genesis);
    duplicate.validators.push({ ...duplicate.validators[0], publicKey: duplicate.validators[0].publicKey.toUpperCase().replace('ED25519', 'ed25519') });
    await expectReason(extract, duplicate, 'malformed', 'genesis.validators');
    for (const [badExtract, badGenesis] of [[null, genesis], [extract, null], ['text', genesis], [{}, genesis], [[], []], [{ ...clone(extract), passport: null }, genesis], [{ ...clone(extract), height: '12' }, genesis]]) {
      const result = await proof.verifyExtract(badExtract, badGenesis);
      assert.equal(result.valid, false);
      assert.equal(result.reason, 'malformed', result.detail);
    }
  });
}

await testFixture('synthetic fixture', 'synthetic_extract.json', 'synthetic_genesis.json');
await testFixture('real devnet fixture', 'extract.json', 'genesis.json');

// ---------------------------------------------------------------------------------------------
// An extract from after two validator-set changes (a fifth validator added, then a genesis
// validator removed): it verifies only through the handovers it carries. The pair was written by
// `TAMGA_WRITE_HANDOVER_FIXTURE=Tests/portal/fixtures swift test --filter ValidatorChangeTests`.

async function testHandovers() {
  const extract = readJSON('handover_extract.json');
  const genesis = readJSON('handover_genesis.json');
  const name = (text) => `validator handovers: ${text}`;
  const handovers = extract.validatorHandovers;
  const withHandovers = (list) => ({ ...clone(extract), validatorHandovers: list });
  const withHandoverBytes = (index, field, change) => {
    const list = clone(handovers);
    list[index] = withBytes(list[index], field, change);
    return withHandovers(list);
  };

  await test(name('two changes; the extract verifies against the genesis file through them'), async () => {
    assert.equal(handovers.length, 2);
    const result = await proof.verifyExtract(extract, genesis);
    assert.equal(result.valid, true, `${result.reason} ${result.code}: ${result.detail}`);
  });

  await test(name('without them, the commit of the new set does not verify against the genesis set → commit_invalid'), async () => {
    await expectReason(withHandovers(undefined), genesis, 'commit_invalid');
    await expectReason(withHandovers([]), genesis, 'commit_invalid');
  });

  await test(name('the first left out: the second is not signed by the genesis set → handover_invalid'), async () => {
    await expectReason(withHandovers([handovers[1]]), genesis, 'handover_invalid', 'handover.commit_invalid');
  });

  await test(name('out of order, or one repeated → handover_invalid'), async () => {
    await expectReason(withHandovers([handovers[1], handovers[0]]), genesis, 'handover_invalid');
    await expectReason(withHandovers([handovers[0], handovers[0], handovers[1]]), genesis, 'handover_invalid', 'handover.out_of_order');
  });

  await test(name('a changed validators record (another key) → handover_invalid: the proof fails'), async () => {
    const record = JSON.parse(new TextDecoder().decode(fromBase64(handovers[0].record)));
    record[0].publicKey = `ed25519:${RFC8032.key1}`;
    const list = clone(handovers);
    list[0].record = toBase64(utf8(proof.canonicalJSON(record)));
    await expectReason(withHandovers(list), genesis, 'handover_invalid', 'handover.proof_invalid');
  });

  await test(name('a flipped byte in a handover\'s header or commit signature → handover_invalid'), async () => {
    const signatureStart = 8 + 4 + 32 + 2 + 2 + 8;
    await expectReason(withHandoverBytes(0, 'commit', flip(signatureStart + 5)), genesis, 'handover_invalid', 'handover.commit_invalid');
    await expectReason(withHandoverBytes(1, 'header', flip(60)), genesis, 'handover_invalid', 'handover.commit_invalid');
    await expectReason(withHandoverBytes(0, 'proof', (bytes) => new Uint8Array([...bytes, 0])), genesis, 'handover_invalid', 'handover.malformed');
  });

  await test(name('not a list, or an entry not an object → malformed or handover_invalid; nothing throws'), async () => {
    await expectReason(withHandovers('none'), genesis, 'malformed', 'extract.field');
    await expectReason(withHandovers([null]), genesis, 'handover_invalid', 'handover.malformed');
    await expectReason(withHandovers([{ ...handovers[0], record: 'not base64!' }]), genesis, 'handover_invalid', 'handover.malformed');
  });
}

await testHandovers();

const failed = results.filter((passed) => !passed).length;
console.log(`\n${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
