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
    /// Where an in-memory store holds the child (`TreeNodeStore.place`), so that a walk reads it
    /// without a lookup; `notPlaced` otherwise. A hint only: a store checks it against the
    /// child's key. Not part of the reference's identity or of its encoding.
    public let slot: UInt32

    public static let notPlaced = UInt32.max

    public init(hash: Hash, version: UInt64, isLeaf: Bool, slot: UInt32 = ChildReference.notPlaced) {
        self.hash = hash
        self.version = version
        self.isLeaf = isLeaf
        self.slot = slot
    }

    /// The same reference, with the child at `slot`.
    func placed(at slot: UInt32) -> ChildReference {
        ChildReference(hash: hash, version: version, isLeaf: isLeaf, slot: slot)
    }

    public static func == (lhs: ChildReference, rhs: ChildReference) -> Bool {
        lhs.hash == rhs.hash && lhs.version == rhs.version && lhs.isLeaf == rhs.isLeaf
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
        hasher.combine(version)
        hasher.combine(isLeaf)
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
    /// Nodes that the new version no longer uses, with where they were placed; they stay
    /// readable until pruned.
    public let staleNodes: [(key: NodeKey, slot: UInt32)]
    /// The records this version changed (nil: deleted), for a store that keeps a flat index of
    /// the latest values.
    public let values: [(keyHash: Hash, value: [UInt8]?)]

    public init(version: UInt64, root: ChildReference?, nodes: [(key: NodeKey, node: TreeNode)], staleNodes: [(key: NodeKey, slot: UInt32)],
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
    /// The node written at `key`, which a reference says was placed at `slot`.
    func loadNode(_ key: NodeKey, placedAt slot: UInt32) throws -> TreeNode?
    /// Takes a node of the version being built before `save`, for a store that keeps nodes where
    /// references can point (the in-memory one); returns its slot, or `ChildReference.notPlaced`.
    func place(_ node: TreeNode, at key: NodeKey) -> UInt32
    /// Forgets placed nodes that no saved version will use (a batch that failed, a leaf moved).
    func discard(_ slots: [UInt32])
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
    public func loadNode(_ key: NodeKey, placedAt slot: UInt32) throws -> TreeNode? { try loadNode(key) }
    public func place(_ node: TreeNode, at key: NodeKey) -> UInt32 { ChildReference.notPlaced }
    public func discard(_ slots: [UInt32]) {}
    public func loadLatestValue(keyHash: Hash) throws -> LatestValue { .unindexed }
}

/// A `TreeNodeStore` in memory, for the node's working state, tests, benchmarks and the simulator.
///
/// Nodes live in one array of slots; a reference names its child's slot, so a walk reads each
/// node with one array access and no hashing, and the array holds plain values (no object per
/// node, no reference counting along a walk). Each slot keeps its node's key, against which every
/// read is checked. A pruned node's slot goes on a free list and is reused.
public final class InMemoryTreeNodeStore: TreeNodeStore {
    private struct Slot {
        var key: NodeKey
        var node: TreeNode?
    }

    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    /// The latest version's records by key hash, so that reading the current state takes one lookup.
    private var latest: [Hash: [UInt8]] = [:]
    /// The retained versions' roots, oldest first.
    private var roots: [(version: UInt64, root: ChildReference?)] = []
    /// The slots of the nodes each version made stale: free once that version is the oldest kept.
    private var staleSince: [(version: UInt64, slots: [UInt32])] = []

    public init() {}

    /// How many nodes are held, for tests of pruning.
    public var nodeCount: Int { slots.count - freeSlots.count }

    public func loadNode(_ key: NodeKey, placedAt slot: UInt32) -> TreeNode? {
        if slot != ChildReference.notPlaced, Int(slot) < slots.count {
            let placed = slots[Int(slot)]
            if placed.key == key, let node = placed.node { return node }
        }
        return loadNode(key)
    }

    /// The node written at `key`, found by walking its path from the first retained version at or
    /// after the one that wrote it (the map itself follows slots and rarely needs this).
    public func loadNode(_ key: NodeKey) -> TreeNode? {
        guard let start = roots.firstIndex(where: { $0.version >= key.version }) else { return nil }
        var reference = roots[start].root
        var path = NodePath.root
        while let current = reference, Int(current.slot) < slots.count {
            let placed = slots[Int(current.slot)]
            guard placed.key == NodeKey(version: current.version, path: path), let node = placed.node else { return nil }
            if path == key.path { return current.version == key.version ? node : nil }
            guard case let .inner(left, right) = node, path.depth < key.path.depth else { return nil }
            let goesRight = key.path.bits.bit(at: Int(path.depth))
            reference = goesRight ? right : left
            path = path.child(right: goesRight)
        }
        return nil
    }

    public func place(_ node: TreeNode, at key: NodeKey) -> UInt32 {
        if let slot = freeSlots.popLast() {
            slots[Int(slot)] = Slot(key: key, node: node)
            return slot
        }
        precondition(slots.count < Int(ChildReference.notPlaced), "the in-memory state tree is full")
        slots.append(Slot(key: key, node: node))
        return UInt32(slots.count - 1)
    }

    public func discard(_ discarded: [UInt32]) {
        for slot in discarded { freeSlot(slot) }
    }

    public func loadRoot(version: UInt64) -> ChildReference?? {
        guard let index = index(of: version) else { return nil }
        return .some(roots[index].root)
    }

    public func latestVersion() -> UInt64? { roots.last?.version }

    public func save(_ batch: TreeWriteBatch) {
        precondition(roots.last.map { batch.version > $0.version } ?? true, "versions must increase")
        precondition(batch.root.map { $0.slot != ChildReference.notPlaced } ?? true, "an in-memory version's nodes are placed as they are written")
        roots.append((batch.version, batch.root))
        let stale = batch.staleNodes.map(\.slot).filter { $0 != ChildReference.notPlaced }
        if !stale.isEmpty { staleSince.append((batch.version, stale)) }
        for (keyHash, value) in batch.values { latest[keyHash] = value }
    }

    public func loadLatestValue(keyHash: Hash) -> LatestValue {
        latest[keyHash].map(LatestValue.present) ?? .absent
    }

    public func prune(keepingFrom version: UInt64) {
        roots.removeFirst(roots.prefix { $0.version < version }.count)
        // A node stale since v is still used by versions before v, so it may go once v ≤ the
        // oldest version kept.
        let freed = staleSince.prefix { $0.version <= version }
        for entry in freed { for slot in entry.slots { freeSlot(slot) } }
        staleSince.removeFirst(freed.count)
    }

    /// Replaces the contents with versions read back from a disk store: each retained version's
    /// root (oldest first), every node those versions use, keyed as written, and when each node
    /// that later versions replaced became stale. Nodes are placed and linked here; a node a
    /// version needs but `nodes` lacks is `missingNode`. Hashes are not checked
    /// (`AuthenticatedMap.audit` does that), and the index of latest values is left to
    /// `restoreLatestIndex`.
    public func restore(roots restored: [(version: UInt64, root: ChildReference?)], nodes: [NodeKey: TreeNode],
                        stale: [(since: UInt64, key: NodeKey)]) throws {
        slots = []
        freeSlots = []
        var placedSlots: [NodeKey: UInt32] = [:]
        func link(_ reference: ChildReference, at path: NodePath) throws -> ChildReference {
            let key = NodeKey(version: reference.version, path: path)
            if let slot = placedSlots[key] { return reference.placed(at: slot) }
            guard var node = nodes[key] else { throw StateTreeError.missingNode(key) }
            if case let .inner(left, right) = node {
                node = .inner(left: try left.map { try link($0, at: path.child(right: false)) },
                              right: try right.map { try link($0, at: path.child(right: true)) })
            }
            let slot = place(node, at: key)
            placedSlots[key] = slot
            return reference.placed(at: slot)
        }
        roots = try restored.map { ($0.version, try $0.root.map { try link($0, at: .root) }) }
        var staleByVersion: [UInt64: [UInt32]] = [:]
        for (since, key) in stale {
            if let slot = placedSlots[key] { staleByVersion[since, default: []].append(slot) }
        }
        staleSince = staleByVersion.keys.sorted().map { ($0, staleByVersion[$0] ?? []) }
        latest = [:]
    }

    /// Replaces the flat index of the latest version, after the versions were restored from disk.
    public func restoreLatestIndex(_ records: [(keyHash: Hash, value: [UInt8])]) {
        latest = Dictionary(records.map { ($0.keyHash, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    private func freeSlot(_ slot: UInt32) {
        slots[Int(slot)].node = nil
        freeSlots.append(slot)
    }

    private func index(of version: UInt64) -> Int? {
        // Versions increase along `roots`: binary search.
        var low = 0, high = roots.count
        while low < high {
            let middle = (low + high) / 2
            if roots[middle].version < version { low = middle + 1 } else { high = middle }
        }
        return low < roots.count && roots[low].version == version ? low : nil
    }
}
