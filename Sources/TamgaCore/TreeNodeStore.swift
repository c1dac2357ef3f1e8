/// A position in the state tree: the first `depth` bits of a key hash (the rest are zero).
public struct NodePath: Hashable, Sendable, Comparable {
    /// The path bits, left-aligned; bits at and after `depth` are zero.
    public let bits: Hash
    public let depth: UInt16

    /// The root position.
    public static let root = NodePath(bits: .zero, depth: 0)

    public init(bits: Hash, depth: UInt16) {
        precondition(depth <= 256, "a path has at most 256 bits")
        self.bits = bits
        self.depth = depth
    }

    /// The child position one bit deeper, towards `right` (bit 1) or left (bit 0).
    public func child(right: Bool) -> NodePath {
        precondition(depth < 256, "a leaf-level path has no children")
        guard right else { return NodePath(bits: bits, depth: depth + 1) }
        var words = (bits.w0, bits.w1, bits.w2, bits.w3)
        let shift = UInt64(63 - (Int(depth) & 63))
        switch Int(depth) >> 6 {
        case 0: words.0 |= 1 << shift
        case 1: words.1 |= 1 << shift
        case 2: words.2 |= 1 << shift
        default: words.3 |= 1 << shift
        }
        return NodePath(bits: Hash(w0: words.0, w1: words.1, w2: words.2, w3: words.3), depth: depth + 1)
    }

    public static func < (lhs: NodePath, rhs: NodePath) -> Bool {
        (lhs.bits, lhs.depth) < (rhs.bits, rhs.depth)
    }

    /// One word of input: the first 64 path bits come from a cryptographic hash already, so with
    /// the depth mixed in they identify the position in all but astronomically rare cases, and
    /// the in-memory store's lookups stay cheap. Equality still compares every bit.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bits.w0 ^ (UInt64(depth) &* 0xc2b2_ae3d_27d4_eb4f))
    }
}

/// Where a node is stored: the version that wrote it and its position. A node is never changed
/// after it is written; a later version writes a new node and marks the old one stale.
public struct NodeKey: Hashable, Sendable, Comparable {
    public let version: UInt64
    public let path: NodePath

    public init(version: UInt64, path: NodePath) {
        self.version = version
        self.path = path
    }

    public static func < (lhs: NodeKey, rhs: NodeKey) -> Bool {
        (lhs.version, lhs.path) < (rhs.version, rhs.path)
    }
}

/// A parent's reference to a child: enough to hash the parent and to find the child's node.
public struct ChildReference: Hashable, Sendable {
    public let hash: Hash
    /// The version that wrote the child; with the child's path it forms the child's `NodeKey`.
    public let version: UInt64
    public let isLeaf: Bool

    public init(hash: Hash, version: UInt64, isLeaf: Bool) {
        self.hash = hash
        self.version = version
        self.isLeaf = isLeaf
    }
}

/// A node of the state tree.
public enum TreeNode: Hashable, Sendable {
    /// A record: the hash of its key and its value. Its hash is `H(0x02 ‖ keyHash ‖ SHA-256(value))`.
    case leaf(keyHash: Hash, value: [UInt8])
    /// A branch with at least two records below it. Its hash is `H(0x03 ‖ left ‖ right)`, an
    /// empty side hashing as 32 zero bytes.
    case inner(left: ChildReference?, right: ChildReference?)

    /// The node's hash.
    public var hash: Hash {
        switch self {
        case let .leaf(keyHash, value): .combining(.stateLeaf, keyHash, .sha256(value))
        case let .inner(left, right): .combining(.stateNode, left?.hash ?? .zero, right?.hash ?? .zero)
        }
    }
}

/// What one new version writes: its new nodes, the nodes it made stale, and its root.
public struct TreeWriteBatch: Sendable {
    public let version: UInt64
    /// The root of the new version; nil for an empty tree.
    public let root: ChildReference?
    public let nodes: [(key: NodeKey, node: TreeNode)]
    /// Nodes that the new version no longer uses; they stay readable until pruned.
    public let staleNodes: [NodeKey]
    /// The records this version changed (nil: deleted), for a store that keeps a flat index of
    /// the latest values.
    public let values: [(keyHash: Hash, value: [UInt8]?)]

    public init(version: UInt64, root: ChildReference?, nodes: [(key: NodeKey, node: TreeNode)], staleNodes: [NodeKey],
                values: [(keyHash: Hash, value: [UInt8]?)]) {
        self.version = version
        self.root = root
        self.nodes = nodes
        self.staleNodes = staleNodes
        self.values = values
    }
}

/// What a store's flat index of the latest version says about a key.
public enum LatestValue: Sendable {
    case present([UInt8])
    case absent
    /// The store keeps no such index; walk the tree.
    case unindexed
}

/// Storage for the nodes of an `AuthenticatedMap`. Declared here, where it is consumed; the
/// in-memory store is below and the SQLite store lives in TamgaStorage.
public protocol TreeNodeStore {
    /// The node written at `key`, or nil if there is none (or it was pruned).
    func loadNode(_ key: NodeKey) throws -> TreeNode?
    /// The root of `version`: `.some(nil)` for an empty tree, nil if the version is unknown or pruned.
    func loadRoot(version: UInt64) throws -> ChildReference??
    /// The newest version written, or nil if none.
    func latestVersion() throws -> UInt64?
    /// Writes a version atomically: all of it, or (on a thrown error) none of it.
    func save(_ batch: TreeWriteBatch) throws
    /// Forgets every version older than `version`: their roots, and the nodes only they used.
    func prune(keepingFrom version: UInt64) throws
    /// The value of `keyHash` in the latest version, from a flat index if the store keeps one.
    func loadLatestValue(keyHash: Hash) throws -> LatestValue
}

extension TreeNodeStore {
    public func loadLatestValue(keyHash: Hash) throws -> LatestValue { .unindexed }
}

/// A `TreeNodeStore` in memory, for tests, benchmarks and the simulator.
///
/// Nodes are grouped by the version that wrote them: a batch becomes one table sized exactly, and
/// the recent versions, which every update walks through, stay in small tables that fit in cache.
public final class InMemoryTreeNodeStore: TreeNodeStore {
    /// Per-version tables; `tables[i]` holds the nodes written by version `firstVersion + i`.
    private var tables: [[NodePath: TreeNode]] = []
    private var firstVersion: UInt64 = 0
    /// The latest version's records by key hash, so that reading the current state takes one lookup.
    private var latest: [Hash: [UInt8]] = [:]
    private var roots: [UInt64: ChildReference?] = [:]
    private var newest: UInt64?
    /// The nodes each version made stale.
    private var staleSince: [UInt64: [NodeKey]] = [:]

    public init() {}

    /// How many nodes are held, for tests of pruning.
    public var nodeCount: Int { tables.reduce(0) { $0 + $1.count } }

    public func loadNode(_ key: NodeKey) -> TreeNode? {
        guard key.version >= firstVersion, key.version - firstVersion < UInt64(tables.count) else { return nil }
        return tables[Int(key.version - firstVersion)][key.path]
    }

    public func loadRoot(version: UInt64) -> ChildReference?? { roots[version] }

    public func latestVersion() -> UInt64? { newest }

    public func save(_ batch: TreeWriteBatch) {
        precondition(newest.map { batch.version > $0 } ?? true, "versions must increase")
        var table = [NodePath: TreeNode](minimumCapacity: batch.nodes.count)
        for (key, node) in batch.nodes {
            precondition(key.version == batch.version, "a batch writes only nodes of its own version")
            table[key.path] = node
        }
        if tables.isEmpty { firstVersion = batch.version }
        // Versions with no new nodes (or skipped numbers) get empty tables, so indexing stays direct.
        while firstVersion + UInt64(tables.count) < batch.version { tables.append([:]) }
        tables.append(table)
        roots[batch.version] = .some(batch.root)
        if !batch.staleNodes.isEmpty { staleSince[batch.version] = batch.staleNodes }
        for (keyHash, value) in batch.values { latest[keyHash] = value }
        newest = batch.version
    }

    public func loadLatestValue(keyHash: Hash) -> LatestValue {
        latest[keyHash].map(LatestValue.present) ?? .absent
    }

    /// Replaces the flat index of the latest version, after the versions were restored from
    /// disk by `save` with their nodes only.
    public func restoreLatestIndex(_ records: [(keyHash: Hash, value: [UInt8])]) {
        latest = Dictionary(records.map { ($0.keyHash, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public func prune(keepingFrom version: UInt64) {
        // A node stale since v is still used by versions before v, so it may go once v ≤ the
        // oldest version kept.
        var removable: [UInt64: [NodePath]] = [:]
        for since in staleSince.keys where since <= version {
            for key in staleSince.removeValue(forKey: since) ?? [] { removable[key.version, default: []].append(key.path) }
        }
        for (written, paths) in removable where written >= firstVersion && written - firstVersion < UInt64(tables.count) {
            let index = Int(written - firstVersion)
            for path in paths { tables[index][path] = nil }
        }
        // Drop emptied tables at the front.
        let empty = tables.prefix { $0.isEmpty }.count
        if empty > 0 {
            tables.removeFirst(empty)
            firstVersion += UInt64(empty)
        }
        for kept in roots.keys where kept < version { roots[kept] = nil }
    }
}
