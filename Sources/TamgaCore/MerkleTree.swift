/// The binary Merkle tree of RFC 6962 / RFC 9162 over a list of 32-byte items (a block's
/// transaction entry hashes): leaf = `H(0x00 ‖ item)`, node = `H(0x01 ‖ left ‖ right)`, the empty
/// tree hashes to SHA-256 of nothing, and a list of n > 1 items splits at the largest power of two
/// below n.
public enum MerkleTree {
    /// The root of the tree over `items`.
    public static func root(of items: [Hash]) -> Hash {
        guard !items.isEmpty else { return .sha256([]) }
        var level = items.map(leafHash)
        while level.count > 1 { level = parents(of: level) }
        return level[0]
    }

    /// The inclusion proof for the item at `index`.
    public static func proof(of items: [Hash], index: Int) -> MerkleProof {
        precondition(index >= 0 && index < items.count, "proof index out of range")
        var path: [Hash] = []
        var level = items.map(leafHash)
        var position = index
        while level.count > 1 {
            let sibling = position ^ 1
            if sibling < level.count { path.append(level[sibling]) }
            level = parents(of: level)
            position /= 2
        }
        return MerkleProof(leafIndex: UInt64(index), treeSize: UInt64(items.count), path: path)
    }

    /// The next level up. Pairing level by level, carrying an odd last node up unchanged, gives
    /// exactly RFC 6962's split at the largest power of two.
    private static func parents(of level: [Hash]) -> [Hash] {
        var next: [Hash] = []
        next.reserveCapacity((level.count + 1) / 2)
        var index = 0
        while index + 1 < level.count {
            next.append(.combining(.merkleNode, level[index], level[index + 1]))
            index += 2
        }
        if index < level.count { next.append(level[index]) }
        return next
    }

    /// `H(0x00 ‖ item)`.
    public static func leafHash(_ item: Hash) -> Hash {
        item.withUnsafeBytes { .tagged(.merkleLeaf, Array($0)) }
    }
}

/// Why a Merkle inclusion proof was refused.
public enum MerkleProofError: CodedError, Equatable {
    case indexOutOfRange, pathTooLong, pathTooShort, rootMismatch

    public var code: String {
        switch self {
        case .indexOutOfRange: "merkle_proof.index_out_of_range"
        case .pathTooLong: "merkle_proof.path_too_long"
        case .pathTooShort: "merkle_proof.path_too_short"
        case .rootMismatch: "merkle_proof.root_mismatch"
        }
    }

    public var message: String {
        switch self {
        case .indexOutOfRange: "the leaf index is not inside the tree"
        case .pathTooLong: "the proof has more hashes than a tree of this size needs"
        case .pathTooShort: "the proof has fewer hashes than a tree of this size needs"
        case .rootMismatch: "the proof does not lead to the expected root"
        }
    }
}

/// An RFC 9162 inclusion proof: the sibling hashes from the leaf up to the root.
public struct MerkleProof: Hashable, Sendable {
    public let leafIndex: UInt64
    public let treeSize: UInt64
    public let path: [Hash]

    public init(leafIndex: UInt64, treeSize: UInt64, path: [Hash]) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.path = path
    }

    /// Checks that `item` is at `leafIndex` in the tree of `treeSize` items whose root is `root`,
    /// following RFC 9162 §2.1.3.2. The proof is untrusted input.
    public func verify(item: Hash, root: Hash) throws(MerkleProofError) {
        guard leafIndex < treeSize else { throw .indexOutOfRange }
        guard path.count <= Limits.merkleProofHashesMax else { throw .pathTooLong }
        var fn = leafIndex
        var sn = treeSize - 1
        var result = MerkleTree.leafHash(item)
        for sibling in path {
            guard sn != 0 else { throw .pathTooLong }
            if fn & 1 == 1 || fn == sn {
                result = .combining(.merkleNode, sibling, result)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                result = .combining(.merkleNode, result, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .pathTooShort }
        guard result == root else { throw .rootMismatch }
    }
}

extension MerkleProof: BinaryCodable {
    /// `u64 leaf index ‖ u64 tree size ‖ u8 count ‖ count × hash[32]`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(leafIndex)
        writer.write(treeSize)
        writer.write(UInt8(path.count))
        for hash in path { writer.write(hash) }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        leafIndex = try reader.readUInt64("leaf index")
        treeSize = try reader.readUInt64("tree size")
        let count = Int(try reader.readUInt8("path length"))
        guard count <= Limits.merkleProofHashesMax else {
            throw .lengthExceedsLimit(field: "merkle path", length: count, limit: Limits.merkleProofHashesMax)
        }
        var path: [Hash] = []
        for _ in 0..<count { path.append(try reader.readHash("path hash")) }
        self.path = path
    }
}
