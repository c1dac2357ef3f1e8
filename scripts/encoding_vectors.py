#!/usr/bin/env python3
"""Golden vectors for docs/encoding.md and EncodingTests, computed independently of the Swift code.

Builds each structure byte by byte from the layout in docs/encoding.md, with Python's hashlib and
the `cryptography` package's Ed25519, and prints hex. The Swift tests compare their encoder, hashes
and signatures with these values, so a change to either side shows up as a test failure.
Run: python3 scripts/encoding_vectors.py
"""
import hashlib
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# RFC 8032 section 7.1, tests 1 and 2.
SEED1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
SEED2 = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")

TAG = {"merkleLeaf": 0, "merkleNode": 1, "stateLeaf": 2, "stateNode": 3, "header": 4, "vote": 5,
       "proposal": 6, "transaction": 7, "validatorSet": 8, "commit": 9, "keyID": 10}


def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def short_string(s): return u16(len(s.encode())) + s.encode()
def tagged(tag, data): return hashlib.sha256(u8(TAG[tag]) + data).digest()
def fill(byte): return bytes([byte]) * 32


def key(seed):
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, public


CHAIN = "tamga-test"
k1, pk1 = key(SEED1)
k2, pk2 = key(SEED2)
out = {}

out["keyId(rfc8032-1)"] = tagged("keyID", u8(1) + pk1)

header = (u16(1) + short_string(CHAIN) + u64(7) + u64(1764000000000) + fill(0x11) + fill(0x22) + fill(0x33)
          + fill(0x44) + fill(0x55) + fill(0x66) + u16(2))
out["header"] = header
out["header.hash"] = tagged("header", header)

vote = u8(2) + short_string(CHAIN) + u64(7) + u32(1) + u8(1) + fill(0x77) + u64(1764000000123) + u16(3)
out["precommit"] = vote
out["precommit.signBytes"] = u8(TAG["vote"]) + vote
nil_prevote = u8(1) + short_string(CHAIN) + u64(7) + u32(0) + u8(0) + u64(1764000000123) + u16(0)
out["nilPrevote"] = nil_prevote

proposal = short_string(CHAIN) + u64(7) + u32(2) + u8(1) + u32(1) + fill(0x77) + u64(1764000000456) + u16(0)
out["proposal"] = proposal
out["proposal.signature(rfc8032-1)"] = k1.sign(u8(TAG["proposal"]) + proposal)

entries = []
for validator, timestamp, private in ((0, 1764000000100, k1), (1, 1764000000200, k2)):
    signed_vote = (u8(2) + short_string(CHAIN) + u64(7) + u32(1) + u8(1) + fill(0x77) + u64(timestamp) + u16(validator))
    entries.append(u16(validator) + u64(timestamp) + private.sign(u8(TAG["vote"]) + signed_vote))
commit = u64(7) + u32(1) + fill(0x77) + u16(len(entries)) + b"".join(entries)
out["commit"] = commit
out["commit.hash"] = tagged("commit", commit)

validator_set = u16(2) + u8(1) + pk1 + u64(10) + u8(1) + pk2 + u64(20)
out["validatorSet"] = validator_set
out["validatorSet.hash"] = tagged("validatorSet", validator_set)

payload = b'{"chainId":"tamga-test"}'
envelope = u32(len(payload)) + payload + u8(1) + tagged("keyID", u8(1) + pk1) + k1.sign(payload)
out["envelope"] = envelope
out["envelope.transactionId"] = hashlib.sha256(payload).digest()
out["envelope.entryHash"] = tagged("transaction", envelope)

# The state map with one record, and with two records whose key hashes differ in the first bit.
def leaf(key_bytes, value):
    return tagged("stateLeaf", hashlib.sha256(key_bytes).digest() + hashlib.sha256(value).digest())
a, b = b"party/bank-1", b"party/court-1"
ha, hb = hashlib.sha256(a).digest(), hashlib.sha256(b).digest()
out["stateRoot{a}"] = leaf(a, b"A")
left, right = (leaf(a, b"A"), leaf(b, b"B")) if ha < hb else (leaf(b, b"B"), leaf(a, b"A"))
assert (ha[0] >> 7) != (hb[0] >> 7), "pick keys whose hashes differ in the first bit"
out["stateRoot{a,b}"] = tagged("stateNode", left + right)

# RFC 6962 root over three items.
items = [fill(0x01), fill(0x02), fill(0x03)]
leaves = [hashlib.sha256(b"\x00" + i).digest() for i in items]
node01 = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
out["merkleRoot(3)"] = hashlib.sha256(b"\x01" + node01 + leaves[2]).digest()

for name, value in out.items():
    print(f"{name} = {value.hex()}")
