/// Why a state proof was refused. A proof is untrusted input: every structural rule is checked
/// before any hash is compared.
public enum StateProofError: CodedError, Equatable {
    case tooManySiblings(Int)
    case nonCanonical
    case leafOffPath
    case keyAbsent
    case keyPresent
    case valueMismatch
    case rootMismatch

    public var code: String {
        switch self {
        case .tooManySiblings: "proof.too_many_siblings"
        case .nonCanonical: "proof.non_canonical"
        case .leafOffPath: "proof.leaf_off_path"
        case .keyAbsent: "proof.key_absent"
        case .keyPresent: "proof.key_present"
        case .valueMismatch: "proof.value_mismatch"
        case .rootMismatch: "proof.root_mismatch"
        }
    }

    public var message: String {
        switch self {
        case let .tooManySiblings(count): "the proof has \(count) siblings; a key hash has only 256 bits"
        case .nonCanonical: "the proof ends beside an empty subtree, which the tree never stores"
        case .leafOffPath: "the proof ends at a leaf whose key does not lie on the path of the key asked about"
        case .keyAbsent: "the proof shows that the key is absent"
        case .keyPresent: "the proof shows that the key is present"
        case .valueMismatch: "the proof is for a different value"
        case .rootMismatch: "the proof does not lead to the expected state root"
        }
    }
}

/// A proof that a key has a given value, or no value, in the state map with a given root.
///
/// `siblings` are the hashes beside the key's path, from the root down; the path ends at
/// `terminal`: an empty subtree, the key's own leaf, or the leaf of another key that shares the
/// path (which proves the key is absent).
public struct StateProof: Hashable, Sendable {
    /// Where the key's path ends.
    public enum Terminal: Hashable, Sendable {
        case empty
        case leaf(keyHash: Hash, valueHash: Hash)
    }

    public let siblings: [Hash]
    public let terminal: Terminal

    public init(siblings: [Hash], terminal: Terminal) {
        self.siblings = siblings
        self.terminal = terminal
    }

    /// Checks the proof for `keyHash` against `root`; returns the value's SHA-256 if the key is
    /// present, nil if the proof shows it absent.
    public func verify(keyHash: Hash, root: Hash) throws(StateProofError) -> Hash? {
        guard siblings.count <= Limits.stateProofSiblingsMax else { throw .tooManySiblings(siblings.count) }
        // A canonical tree never has an empty subtree beside a leaf or beside another empty
        // subtree: such a pair is stored as the leaf alone, one level up.
        if siblings.last == .zero { throw .nonCanonical }
        var current: Hash
        var provenValue: Hash?
        switch terminal {
        case .empty:
            current = .zero
        case let .leaf(leafKeyHash, valueHash):
            if leafKeyHash == keyHash {
                provenValue = valueHash
            } else if leafKeyHash.commonPrefixLength(with: keyHash) < siblings.count {
                throw .leafOffPath
            }
            current = .combining(.stateLeaf, leafKeyHash, valueHash)
        }
        for depth in stride(from: siblings.count - 1, through: 0, by: -1) {
            current = keyHash.bit(at: depth)
                ? .combining(.stateNode, siblings[depth], current)
                : .combining(.stateNode, current, siblings[depth])
        }
        guard current == root else { throw .rootMismatch }
        return provenValue
    }

    /// Checks that `key` holds exactly `value` in the state with `root`.
    public func verifyInclusion(key: [UInt8], value: [UInt8], root: Hash) throws(StateProofError) {
        guard let valueHash = try verify(keyHash: .sha256(key), root: root) else { throw .keyAbsent }
        guard valueHash == .sha256(value) else { throw .valueMismatch }
    }

    /// Checks that `key` holds no value in the state with `root`.
    public func verifyExclusion(key: [UInt8], root: Hash) throws(StateProofError) {
        guard try verify(keyHash: .sha256(key), root: root) == nil else { throw .keyPresent }
    }
}

extension StateProof: BinaryCodable {
    /// `u16 count ‖ count × hash ‖ u8 terminal (0 empty, 1 leaf) ‖ [key hash ‖ value hash]`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(UInt16(siblings.count))
        for sibling in siblings { writer.write(sibling) }
        switch terminal {
        case .empty:
            writer.write(UInt8(0))
        case let .leaf(keyHash, valueHash):
            writer.write(UInt8(1))
            writer.write(keyHash)
            writer.write(valueHash)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = Int(try reader.readUInt16("sibling count"))
        guard count <= Limits.stateProofSiblingsMax else {
            throw .lengthExceedsLimit(field: "siblings", length: count, limit: Limits.stateProofSiblingsMax)
        }
        var siblings: [Hash] = []
        siblings.reserveCapacity(count)
        for _ in 0..<count { siblings.append(try reader.readHash("sibling")) }
        self.siblings = siblings
        switch try reader.readUInt8("terminal") {
        case 0: terminal = .empty
        case 1: terminal = .leaf(keyHash: try reader.readHash("leaf key hash"), valueHash: try reader.readHash("leaf value hash"))
        case let other: throw .invalidValue(field: "terminal", reason: "unknown terminal \(other)")
        }
    }
}
