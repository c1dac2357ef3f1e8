@preconcurrency import Crypto
import Foundation

/// The signature scheme of a public key. Only Ed25519 exists today; the tag is in every key so that
/// another scheme can be added without ambiguity.
public enum SignatureAlgorithm: UInt8, Sendable, CaseIterable {
    case ed25519 = 1

    /// The name used in text forms: `ed25519`.
    public var name: String {
        switch self {
        case .ed25519: "ed25519"
        }
    }

    /// Bytes in a public key of this algorithm.
    public var publicKeyByteCount: Int { 32 }
    /// Bytes in a signature of this algorithm.
    public var signatureByteCount: Int { 64 }
}

/// Why a key or signature could not be read.
public enum KeyError: CodedError, Equatable {
    case unknownAlgorithm(String)
    case wrongLength(field: String, expected: Int, actual: Int)
    case malformedText(String)

    public var code: String {
        switch self {
        case .unknownAlgorithm: "key.unknown_algorithm"
        case .wrongLength: "key.wrong_length"
        case .malformedText: "key.malformed"
        }
    }

    public var message: String {
        switch self {
        case let .unknownAlgorithm(name): "unknown signature algorithm \"\(name.prefix(40))\""
        case let .wrongLength(field, expected, actual): "\(field) must be \(expected) bytes, not \(actual)"
        case let .malformedText(reason): reason
        }
    }
}

/// An algorithm-tagged public key. Its text form is `ed25519:` followed by 64 hex characters.
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public let algorithm: SignatureAlgorithm
    /// The key's bytes in the algorithm's standard encoding (RFC 8032 for Ed25519).
    public let bytes: [UInt8]

    public init(algorithm: SignatureAlgorithm, bytes: [UInt8]) throws(KeyError) {
        guard bytes.count == algorithm.publicKeyByteCount else {
            throw .wrongLength(field: "public key", expected: algorithm.publicKeyByteCount, actual: bytes.count)
        }
        self.algorithm = algorithm
        self.bytes = bytes
    }

    /// Parses `ed25519:<64 hex>`.
    public init(text: String) throws(KeyError) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { throw .malformedText("a public key is written algorithm:hex, such as ed25519:3d40…") }
        guard let algorithm = SignatureAlgorithm.allCases.first(where: { $0.name == parts[0] }) else {
            throw .unknownAlgorithm(String(parts[0]))
        }
        guard let bytes = Hex.decode(parts[1]) else { throw .malformedText("the public key's hex is malformed") }
        try self.init(algorithm: algorithm, bytes: bytes)
    }

    /// The key's identifier: `H(0x0a ‖ algorithm ‖ key bytes)`.
    public var keyID: KeyID { KeyID(hash: .tagged(.keyID, [algorithm.rawValue] + bytes)) }

    /// `ed25519:<hex>`.
    public var description: String { "\(algorithm.name):\(Hex.encode(bytes))" }

    /// Checks a signature under Tamga's pinned rules and says why it fails; see `SignatureVerdict`.
    public func verdict(on signature: Signature, for message: [UInt8]) -> SignatureVerdict {
        switch algorithm {
        case .ed25519: Ed25519Rules.verdict(publicKey: bytes, signature: signature.bytes, message: message)
        }
    }

    /// Whether `signature` is valid for `message` under the pinned rules.
    public func isValidSignature(_ signature: Signature, for message: [UInt8]) -> Bool {
        verdict(on: signature, for: message) == .valid
    }
}

extension PublicKey: Codable {
    public init(from decoder: any Decoder) throws {
        try self.init(text: decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The identifier of a public key, named in envelopes instead of the key itself.
public struct KeyID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let hash: Hash
    public init(hash: Hash) { self.hash = hash }
    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { lhs.hash < rhs.hash }
    public var description: String { hash.hex }

    public init(from decoder: any Decoder) throws { hash = try Hash(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try hash.encode(to: encoder) }
}

/// A signature's bytes (64 for Ed25519).
public struct Signature: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(KeyError) {
        guard bytes.count == 64 else { throw .wrongLength(field: "signature", expected: 64, actual: bytes.count) }
        self.bytes = bytes
    }

    public var description: String { Hex.encode(bytes) }
}

extension Signature: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let bytes = Hex.decode(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "signature is not hex"))
        }
        try self.init(bytes: bytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Hex.encode(bytes))
    }
}

/// A private Ed25519 key. Never printed, never encoded except into a key file.
public struct SigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A new key from the system's secure random source.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// The key whose RFC 8032 seed is `seed` (32 bytes).
    public init(seed: [UInt8]) throws(KeyError) {
        guard seed.count == 32 else { throw .wrongLength(field: "private key seed", expected: 32, actual: seed.count) }
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        } catch {
            throw .malformedText("the private key seed was refused by the Ed25519 implementation")
        }
    }

    /// The 32-byte seed, for writing a key file.
    public var seed: [UInt8] { Array(key.rawRepresentation) }

    public var publicKey: PublicKey {
        // An Ed25519 public key is always 32 bytes.
        guard let publicKey = try? PublicKey(algorithm: .ed25519, bytes: Array(key.publicKey.rawRepresentation)) else {
            preconditionFailure("Ed25519 public key of unexpected length")
        }
        return publicKey
    }

    /// Signs `message`. Ed25519 signing is deterministic: the same key and message give the same signature.
    public func sign(_ message: [UInt8]) -> Signature {
        guard let bytes = try? key.signature(for: message), let signature = try? Signature(bytes: Array(bytes)) else {
            preconditionFailure("Ed25519 signing failed")
        }
        return signature
    }
}

/// The outcome of checking a signature. Every node must reach the same verdict for the same input,
/// so the rules are pinned here rather than left to whatever a library version accepts.
public enum SignatureVerdict: String, Sendable, Equatable {
    case valid
    /// S is not below the group order L (RFC 8032 §5.1.7 requires it; otherwise signatures are malleable).
    case nonCanonicalScalar = "non_canonical_scalar"
    /// The public key's y coordinate is not below p.
    case nonCanonicalKey = "non_canonical_key"
    /// The public key is a point of small order, for which a forged signature verifies for any message.
    case smallOrderKey = "small_order_key"
    /// R's y coordinate is not below p.
    case nonCanonicalCommitment = "non_canonical_commitment"
    /// R is a point of small order.
    case smallOrderCommitment = "small_order_commitment"
    /// The signature equation does not hold.
    case mismatch

    /// The stable code, such as `signature.small_order_key`.
    public var code: String { "signature.\(rawValue)" }
}

/// Tamga's Ed25519 verification rules (documented in docs/encoding.md, "Signatures"):
/// 1. S must be canonical: S < L.
/// 2. A and R must be canonical encodings (y < p) and must not be of small order (the eight torsion
///    points, whatever the sign bit).
/// 3. The cofactorless equation [S]B = R + [k]A, k = SHA-512(R ‖ A ‖ M), checked by swift-crypto
///    (BoringSSL), which compares the encoding of [S]B − [k]A with R byte for byte.
/// Rules 1 and 2 are checked here before the library is called, so the verdict does not depend on
/// the library's own choices for these inputs.
enum Ed25519Rules {
    /// L, the order of the base point, little-endian.
    static let groupOrder: [UInt8] = Hex.constant("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

    /// y coordinates (little-endian, sign bit cleared) of the points of order 1, 2, 4 and 8.
    static let smallOrderY: [[UInt8]] = [
        "0000000000000000000000000000000000000000000000000000000000000000",  // order 4
        "0100000000000000000000000000000000000000000000000000000000000000",  // identity
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // order 2 (y = p − 1)
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
    ].map(Hex.constant)

    static func verdict(publicKey: [UInt8], signature: [UInt8], message: [UInt8]) -> SignatureVerdict {
        precondition(publicKey.count == 32 && signature.count == 64)
        let commitment = Array(signature[0..<32])
        let scalar = Array(signature[32..<64])
        guard isBelowGroupOrder(scalar) else { return .nonCanonicalScalar }
        guard isCanonicalPoint(publicKey) else { return .nonCanonicalKey }
        guard !isSmallOrder(publicKey) else { return .smallOrderKey }
        guard isCanonicalPoint(commitment) else { return .nonCanonicalCommitment }
        guard !isSmallOrder(commitment) else { return .smallOrderCommitment }
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey),
              key.isValidSignature(signature, for: message)
        else { return .mismatch }
        return .valid
    }

    /// Little-endian comparison from the most significant byte down.
    static func isBelowGroupOrder(_ scalar: [UInt8]) -> Bool {
        for index in stride(from: 31, through: 0, by: -1) where scalar[index] != groupOrder[index] {
            return scalar[index] < groupOrder[index]
        }
        return false
    }

    /// Whether y (the low 255 bits) is below p = 2^255 − 19.
    static func isCanonicalPoint(_ encoding: [UInt8]) -> Bool {
        guard encoding[31] & 0x7f == 0x7f, encoding[1...30].allSatisfy({ $0 == 0xff }) else { return true }
        return encoding[0] < 0xed
    }

    static func isSmallOrder(_ encoding: [UInt8]) -> Bool {
        var y = encoding
        y[31] &= 0x7f
        return smallOrderY.contains(y)
    }
}
