import TamgaCore
import Testing

/// Known-answer tests for the pinned Ed25519 rules (docs/encoding.md, "Signatures").
@Suite struct SignatureTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let seed: String, publicKey: String, message: String, signature: String
        var testDescription: String { "message of \(message.count / 2) bytes" }
    }

    /// RFC 8032 §7.1, tests 1 to 3.
    static let rfc8032: [Vector] = [
        Vector(
            seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        Vector(
            seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
        Vector(
            seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        ),
    ]

    @Test(arguments: rfc8032)
    func signsAndVerifiesRFC8032(_ vector: Vector) throws {
        let key = try SigningKey(seed: bytes(vector.seed))
        #expect(key.publicKey.bytes == bytes(vector.publicKey))
        let signature = key.sign(bytes(vector.message))
        #expect(signature.bytes == bytes(vector.signature))
        #expect(key.publicKey.verdict(on: signature, for: bytes(vector.message)) == .valid)
    }

    @Test func rejectsAnotherMessageAndAnotherKey() throws {
        let vector = Self.rfc8032[1]
        let key = try PublicKey(algorithm: .ed25519, bytes: bytes(vector.publicKey))
        let signature = try Signature(bytes: bytes(vector.signature))
        #expect(key.verdict(on: signature, for: bytes("73")) == .mismatch)
        #expect(RFC8032.key1.publicKey.verdict(on: signature, for: bytes("72")) == .mismatch)
        var flipped = signature.bytes
        flipped[10] ^= 1
        #expect(key.verdict(on: try Signature(bytes: flipped), for: bytes("72")) == .mismatch)
    }

    /// S + L verifies under the equation but is malleable; the pinned rules refuse it.
    @Test func rejectsNonCanonicalScalar() throws {
        let vector = Self.rfc8032[0]
        var signature = bytes(vector.signature)
        let order = bytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        var carry: UInt16 = 0
        for index in 0..<32 {
            let sum = UInt16(signature[32 + index]) + UInt16(order[index]) + carry
            signature[32 + index] = UInt8(sum & 0xff)
            carry = sum >> 8
        }
        #expect(carry == 0)
        let key = try PublicKey(algorithm: .ed25519, bytes: bytes(vector.publicKey))
        #expect(key.verdict(on: try Signature(bytes: signature), for: []) == .nonCanonicalScalar)
        // S = L exactly is also refused.
        #expect(key.verdict(on: try Signature(bytes: Array(signature[0..<32]) + order), for: []) == .nonCanonicalScalar)
    }

    /// With A = identity, R = identity and S = 0, the cofactorless equation holds for every message.
    @Test func rejectsSmallOrderKeyThatWouldVerifyAnyMessage() throws {
        let identity = bytes("0100000000000000000000000000000000000000000000000000000000000000")
        let key = try PublicKey(algorithm: .ed25519, bytes: identity)
        let forged = try Signature(bytes: identity + [UInt8](repeating: 0, count: 32))
        #expect(key.verdict(on: forged, for: Array("transfer everything".utf8)) == .smallOrderKey)
    }

    @Test(arguments: [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    ])
    func rejectsEverySmallOrderPoint(_ point: String) throws {
        let vector = Self.rfc8032[0]
        let asKey = try PublicKey(algorithm: .ed25519, bytes: bytes(point))
        #expect(asKey.verdict(on: try Signature(bytes: bytes(vector.signature)), for: []) == .smallOrderKey)
        let goodKey = try PublicKey(algorithm: .ed25519, bytes: bytes(vector.publicKey))
        let smallR = try Signature(bytes: bytes(point) + Array(bytes(vector.signature)[32..<64]))
        #expect(goodKey.verdict(on: smallR, for: []) == .smallOrderCommitment)
    }

    /// y ≥ p is not a canonical encoding, even when it reduces to a valid point.
    @Test func rejectsNonCanonicalPoints() throws {
        let vector = Self.rfc8032[0]
        // y = p + 2 and y = 2^255 − 1, both ≥ p.
        for encoding in ["efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                         "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"] {
            let key = try PublicKey(algorithm: .ed25519, bytes: bytes(encoding))
            #expect(key.verdict(on: try Signature(bytes: bytes(vector.signature)), for: []) == .nonCanonicalKey)
            let goodKey = try PublicKey(algorithm: .ed25519, bytes: bytes(vector.publicKey))
            let signature = try Signature(bytes: bytes(encoding) + Array(bytes(vector.signature)[32..<64]))
            #expect(goodKey.verdict(on: signature, for: []) == .nonCanonicalCommitment)
        }
    }

    @Test func publicKeyTextAndKeyID() throws {
        let key = RFC8032.key1.publicKey
        #expect(key.description == "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        #expect(try PublicKey(text: key.description) == key)
        // From scripts/encoding_vectors.py.
        #expect(key.keyID.description == "e0a75109a40568e6d1faaecc6c0e00ffb3b9a9f78c6cbb1aff644695c4c9cce7")
        #expect(throws: KeyError.unknownAlgorithm("rsa")) { try PublicKey(text: "rsa:00") }
        #expect(throws: KeyError.wrongLength(field: "public key", expected: 32, actual: 2)) { try PublicKey(text: "ed25519:0000") }
        #expect(throws: KeyError.wrongLength(field: "signature", expected: 64, actual: 3)) { try Signature(bytes: [1, 2, 3]) }
    }
}
