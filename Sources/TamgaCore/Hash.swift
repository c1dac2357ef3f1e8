import Crypto

/// The domain of a tagged hash: the first byte hashed, so that a digest computed for one purpose
/// can never be presented as a digest for another.
///
/// Every tag is below 0x20, so no tagged input can be mistaken for a transaction payload, which is
/// a JSON object and therefore starts with `{` (0x7B). That is what lets transaction signatures
/// cover the payload bytes exactly as sent while vote and proposal signatures stay separate.
public enum HashDomain: UInt8, Sendable, CaseIterable {
    /// A leaf of the transaction-list Merkle tree (RFC 6962 leaf prefix).
    case merkleLeaf = 0x00
    /// An inner node of the transaction-list Merkle tree (RFC 6962 node prefix).
    case merkleNode = 0x01
    /// A leaf of the authenticated state map.
    case stateLeaf = 0x02
    /// An inner node of the authenticated state map.
    case stateNode = 0x03
    /// A block header.
    case header = 0x04
    /// A prevote or precommit, as signed.
    case vote = 0x05
    /// A block proposal, as signed.
    case proposal = 0x06
    /// A transaction entry of a block: payload and signatures together.
    case transaction = 0x07
    /// A validator set.
    case validatorSet = 0x08
    /// A commit (the precommits that finalized a block).
    case commit = 0x09
    /// A key identifier derived from an algorithm-tagged public key.
    case keyID = 0x0a
    /// Evidence of equivocation: two conflicting signed votes.
    case evidence = 0x0b
}

/// A SHA-256 digest.
///
/// Stored as four big-endian words so that comparison, hashing and bit access are cheap: the
/// authenticated map walks key hashes bit by bit on every update.
public struct Hash: Hashable, Comparable, Sendable {
    /// The number of bytes in a digest.
    public static let byteCount = 32

    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    @usableFromInline init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Thirty-two zero bytes: the hash of an empty subtree of the state map, and "no block" in a header.
    public static let zero = Hash(w0: 0, w1: 0, w2: 0, w3: 0)

    /// Creates a hash from exactly 32 bytes; returns nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Hash.byteCount else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (offset, byte) in bytes.enumerated() {
            words[offset / 8] = words[offset / 8] << 8 | UInt64(byte)
        }
        self.init(w0: words[0], w1: words[1], w2: words[2], w3: words[3])
    }

    /// Creates a hash from 64 hexadecimal characters; returns nil otherwise.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Hash.byteCount)
        self.init(
            w0: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            w1: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            w2: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            w3: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        )
    }

    /// The 32 bytes of the digest.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Lowercase hexadecimal, 64 characters.
    public var hex: String { Hex.encode(bytes) }

    /// Calls `body` with the digest's 32 bytes in order.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: &words, body)
    }

    /// The bit at `index`, counting from the most significant bit of the first byte (index 0) to
    /// the least significant bit of the last byte (index 255).
    @inlinable
    public func bit(at index: Int) -> Bool {
        precondition(index >= 0 && index < 256, "bit index out of range")
        let word: UInt64
        switch index >> 6 {
        case 0: word = w0
        case 1: word = w1
        case 2: word = w2
        default: word = w3
        }
        return (word >> UInt64(63 - (index & 63))) & 1 == 1
    }

    /// The number of leading bits that `self` and `other` have in common (256 when equal).
    public func commonPrefixLength(with other: Hash) -> Int {
        let pairs = [(w0, other.w0), (w1, other.w1), (w2, other.w2), (w3, other.w3)]
        for (offset, pair) in pairs.enumerated() where pair.0 != pair.1 {
            return offset * 64 + (pair.0 ^ pair.1).leadingZeroBitCount
        }
        return 256
    }

    public static func < (lhs: Hash, rhs: Hash) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}

extension Hash {
    /// SHA-256 of `bytes`, with no domain tag. Used where the design fixes a plain digest: the
    /// transaction id, the key of a state record and the digest of a stored value.
    public static func sha256(_ bytes: [UInt8]) -> Hash {
        bytes.withUnsafeBytes { buffer in
            var hasher = SHA256()
            hasher.update(bufferPointer: buffer)
            return hasher.finalize().withUnsafeBytes { Hash(raw: $0) }
        }
    }

    /// SHA-256 of the domain tag followed by `bytes`.
    public static func tagged(_ domain: HashDomain, _ bytes: [UInt8]) -> Hash {
        bytes.withUnsafeBytes { buffer in
            var hasher = SHA256()
            var tag = domain.rawValue
            Swift.withUnsafeBytes(of: &tag) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: buffer)
            return hasher.finalize().withUnsafeBytes { Hash(raw: $0) }
        }
    }

    /// SHA-256 of the domain tag followed by two digests: the inner node of a binary tree.
    ///
    /// Written without allocation because the state map computes one per level of every update.
    public static func combining(_ domain: HashDomain, _ left: Hash, _ right: Hash) -> Hash {
        // The 65 bytes go to SHA-256 in one piece: a second `update` call costs a tenth of an
        // inner node's hash.
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { input in
            input[0] = domain.rawValue
            func put(_ word: UInt64, _ index: Int) { input.storeBytes(of: word.bigEndian, toByteOffset: 1 + 8 * index, as: UInt64.self) }
            put(left.w0, 0); put(left.w1, 1); put(left.w2, 2); put(left.w3, 3)
            put(right.w0, 4); put(right.w1, 5); put(right.w2, 6); put(right.w3, 7)
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(input))
            return hasher.finalize().withUnsafeBytes { Hash(raw: $0) }
        }
    }
}

extension Hash: CustomStringConvertible {
    public var description: String { hex }
}

extension Hash: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let hash = Hash(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected 64 hex characters"))
        }
        self = hash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
