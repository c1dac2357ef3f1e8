/// A state version cut into pieces that a new node can fetch from any peers and check one by one
/// (state sync; docs/proofs.md, "State sync").
///
/// The key-hash space is cut at depth `prefixBits` into `prefixCount` prefixes. The *top* of a
/// snapshot says, for every prefix, whether the tree holds nothing there, a single record (the
/// leaf's hash), or a subtree (the hash of the inner node at that prefix). From the top alone the
/// root follows (`root(of:)`), so one comparison with a header's state root checks all of it; each
/// prefix's records then check against their entry of the top (`summary(of:prefix:)`). A peer that
/// lies is caught on the piece it sent, and that piece is asked of another.
public enum StateSnapshot {
    public static let prefixBits = 12
    public static let prefixCount = 1 << prefixBits

    /// What the tree holds under one prefix.
    public enum Summary: Hashable, Sendable {
        case empty
        /// One record: its key hash and its value's hash, which give its leaf's hash (the same
        /// wherever the leaf sits) and show which prefix it lies under.
        case leaf(keyHash: Hash, valueHash: Hash)
        /// Two or more records: the hash of the inner node at the prefix.
        case subtree(Hash)
    }

    /// One record of a snapshot.
    public struct Record: Hashable, Sendable {
        public let keyHash: Hash
        public let value: [UInt8]

        public init(keyHash: Hash, value: [UInt8]) {
            self.keyHash = keyHash
            self.value = value
        }
    }

    /// The prefix a key hash lies under.
    public static func prefix(of keyHash: Hash) -> Int { Int(keyHash.w0 >> UInt64(64 - prefixBits)) }

    /// The tree position of `prefix`.
    public static func path(of prefix: Int) -> NodePath {
        NodePath(bits: Hash(w0: UInt64(prefix) << UInt64(64 - prefixBits), w1: 0, w2: 0, w3: 0), depth: UInt16(prefixBits))
    }

    /// The root hash a top gives, by the tree's own rule: an empty side hashes as zero, and a lone
    /// record moves up to where it has no sibling.
    /// Refuses a top whose single records lie outside their prefixes: the root alone cannot tell
    /// where a lone record sits, so a top could otherwise misplace one and still give the root.
    public static func root(of top: [Summary]) throws(SnapshotError) -> Hash {
        guard top.count == prefixCount else { throw .malformedTop(count: top.count) }
        for (prefix, summary) in top.enumerated() {
            if case let .leaf(keyHash, _) = summary, self.prefix(of: keyHash) != prefix { throw .recordOutsidePrefix(prefix: prefix) }
        }
        var level: [Summary] = top
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: 2).map { joined(level[$0], level[$0 + 1]) }
        }
        return level[0].hash
    }

    private static func joined(_ left: Summary, _ right: Summary) -> Summary {
        switch (left, right) {
        case (.empty, .empty): .empty
        case (.leaf, .empty): left
        case (.empty, .leaf): right
        default: .subtree(.combining(.stateNode, left.hash, right.hash))
        }
    }

    /// The summary of one leaf.
    public static func leaf(_ keyHash: Hash, _ value: [UInt8]) -> Summary { .leaf(keyHash: keyHash, valueHash: .sha256(value)) }

    /// What `records` make under `prefix`; refuses records out of key-hash order, repeated, or
    /// outside the prefix.
    public static func summary(of records: [Record], prefix: Int) throws(SnapshotError) -> Summary {
        for (index, record) in records.enumerated() {
            guard self.prefix(of: record.keyHash) == prefix else { throw .recordOutsidePrefix(prefix: prefix) }
            if index > 0, !(records[index - 1].keyHash < record.keyHash) { throw .recordsOutOfOrder(prefix: prefix) }
        }
        switch records.count {
        case 0: return .empty
        case 1: return leaf(records[0].keyHash, records[0].value)
        default:
            var nodes: [(key: NodeKey, node: TreeNode)] = []
            return .subtree(subtree(of: records[...], at: path(of: prefix), version: 0, into: &nodes)?.hash ?? .zero)
        }
    }

    /// Writes the nodes of the subtree that `records` (sorted, distinct, all under `path`) make at
    /// `path`, as `version`, into `nodes`; returns its reference.
    public static func subtree(of records: ArraySlice<Record>, at path: NodePath, version: UInt64,
                               into nodes: inout [(key: NodeKey, node: TreeNode)]) -> ChildReference? {
        buildSubtree(records.map { ($0.keyHash, $0.value) }[...], at: path) { node, path in
            nodes.append((NodeKey(version: version, path: path), node))
            let isLeaf = if case .leaf = node { true } else { false }
            return ChildReference(hash: node.hash, version: version, isLeaf: isLeaf)
        }
    }

    /// The nodes above the prefixes, as `version`, that a verified top implies, with the root, and
    /// where each single-record prefix's leaf sits (its lone record rises to where it has no sibling).
    public static func topNodes(of top: [Summary], version: UInt64)
        -> (root: ChildReference?, nodes: [(key: NodeKey, node: TreeNode)], leafPaths: [Int: NodePath])
    {
        var nodes: [(key: NodeKey, node: TreeNode)] = []
        var leafPaths: [Int: NodePath] = [:]
        // Each entry: the reference at this level, and which prefix's leaf it is (for a lone record).
        var level: [(reference: ChildReference?, leafPrefix: Int?)] = top.enumerated().map { prefix, summary in
            switch summary {
            case .empty: (nil, nil)
            case .leaf: (ChildReference(hash: summary.hash, version: version, isLeaf: true), prefix)
            case let .subtree(hash): (ChildReference(hash: hash, version: version, isLeaf: false), nil)
            }
        }
        for (prefix, entry) in level.enumerated() where entry.leafPrefix != nil { leafPaths[prefix] = path(of: prefix) }
        var depth = prefixBits
        while level.count > 1 {
            depth -= 1
            level = stride(from: 0, to: level.count, by: 2).map { index in
                let (left, right) = (level[index], level[index + 1])
                let position = NodePath(bits: path(of: index << (prefixBits - depth - 1)).bits, depth: UInt16(depth))
                switch (left.reference, right.reference) {
                case (nil, nil):
                    return (nil, nil)
                case let (leaf?, nil) where leaf.isLeaf:
                    if let prefix = left.leafPrefix { leafPaths[prefix] = position }
                    return left
                case let (nil, leaf?) where leaf.isLeaf:
                    if let prefix = right.leafPrefix { leafPaths[prefix] = position }
                    return right
                default:
                    let node = TreeNode.inner(left: left.reference, right: right.reference)
                    nodes.append((NodeKey(version: version, path: position), node))
                    return (ChildReference(hash: node.hash, version: version, isLeaf: false), nil)
                }
            }
        }
        return (level[0].reference, nodes, leafPaths)
    }
}

extension StateSnapshot.Summary {
    /// The hash an inner node above names for this side (zero when empty).
    public var hash: Hash {
        switch self {
        case .empty: .zero
        case let .leaf(keyHash, valueHash): .combining(.stateLeaf, keyHash, valueHash)
        case let .subtree(hash): hash
        }
    }
}

/// Why a piece of a snapshot was refused.
public enum SnapshotError: CodedError, Equatable {
    case malformedTop(count: Int)
    case rootMismatch(expected: Hash, found: Hash)
    case recordOutsidePrefix(prefix: Int)
    case recordsOutOfOrder(prefix: Int)
    case prefixMismatch(prefix: Int)

    public var code: String {
        switch self {
        case .malformedTop: "snapshot.malformed_top"
        case .rootMismatch: "snapshot.root_mismatch"
        case .recordOutsidePrefix: "snapshot.record_outside_prefix"
        case .recordsOutOfOrder: "snapshot.records_out_of_order"
        case .prefixMismatch: "snapshot.prefix_mismatch"
        }
    }

    public var message: String {
        switch self {
        case let .malformedTop(count): "a snapshot's top lists \(count) prefixes, not \(StateSnapshot.prefixCount)"
        case let .rootMismatch(expected, found): "the snapshot's top gives root \(found), but the signed header names \(expected)"
        case let .recordOutsidePrefix(prefix): "a record sent for prefix \(prefix) lies outside it"
        case let .recordsOutOfOrder(prefix): "the records of prefix \(prefix) are not in key-hash order, or repeat"
        case let .prefixMismatch(prefix): "the records of prefix \(prefix) do not hash to what the verified top names"
        }
    }
}

/// The compact subtree that `records` (sorted by key hash, distinct, all under `path`) make at
/// `path`; `write` stores each node at its position and returns the reference to it. Shared by the
/// map's batch builder and by state sync, so that both build exactly the same tree.
func buildSubtree(_ records: ArraySlice<(Hash, [UInt8])>, at path: NodePath,
                  write: (TreeNode, NodePath) -> ChildReference) -> ChildReference? {
    switch records.count {
    case 0:
        return nil
    case 1:
        let record = records[records.startIndex]
        return write(.leaf(keyHash: record.0, value: record.1), path)
    default:
        // Two or more records: each side is empty, one leaf, or an inner node, never a lone leaf
        // beside an empty side, so no collapsing is needed.
        let depth = Int(path.depth)
        let split = records.firstIndex { $0.0.bit(at: depth) } ?? records.endIndex
        let left = buildSubtree(records[..<split], at: path.child(right: false), write: write)
        let right = buildSubtree(records[split...], at: path.child(right: true), write: write)
        return write(.inner(left: left, right: right), path)
    }
}
