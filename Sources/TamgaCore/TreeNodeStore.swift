import CTamgaMemory
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// The node written at `key`, as a parent's `reference` names it: a store that reads from
    /// outside the process checks the node against the reference's hash (`StateTreeError.hashMismatch`).
    func loadNode(_ key: NodeKey, namedBy reference: ChildReference) throws -> TreeNode?
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
    public func loadNode(_ key: NodeKey, namedBy reference: ChildReference) throws -> TreeNode? { try loadNode(key, placedAt: reference.slot) }
    public func place(_ node: TreeNode, at key: NodeKey) -> UInt32 { ChildReference.notPlaced }
    public func discard(_ slots: [UInt32]) {}
    public func loadLatestValue(keyHash: Hash) throws -> LatestValue { .unindexed }
}

/// A `TreeNodeStore` in memory, for the node's working state, tests, benchmarks and the simulator.
///
/// Nodes live in slots; a reference names its child's slot, so a walk reads each node with one
/// memory access and no hashing. A slot is 128 bytes, aligned to 128, so that reading a node
/// touches one pair of cache lines; slots come in chunks of 2 MiB that never move, and every chunk
/// after the first is offered to the kernel for huge pages (one TLB entry per chunk instead of 512).
/// Each slot keeps what identifies its node (version, depth, path), against which every read is
/// checked. A pruned node's slot goes on a free list and is reused. At a million records an update
/// is bound by memory latency, so a new node is streamed into its slot without the slot being read,
/// and pruning touches only the slots of leaves (docs/proofs.md explains why).
public final class InMemoryTreeNodeStore: TreeNodeStore {
    // The store has one writer at a time (it is not `Sendable`), so the slot bookkeeping that
    // every node read and write touches skips the run-time exclusivity checks (10% of an update).
    @exclusivity(unchecked) private var chunks: [UnsafeMutablePointer<Slot>] = []
    /// Slots handed out so far (initialized memory), free or not.
    @exclusivity(unchecked) private var slotCount = 0
    @exclusivity(unchecked) private var freeSlots: [UInt32] = []
    /// One bit per slot: set while the slot holds a leaf.
    @exclusivity(unchecked) private var leafSlots: [UInt64] = []
    /// The latest version's records by key hash, so that reading the current state takes one lookup.
    private var latest: [Hash: [UInt8]] = [:]
    /// The retained versions' roots, oldest first.
    private var roots: [(version: UInt64, root: ChildReference?)] = []
    /// The slots of the nodes each version made stale: free once that version is the oldest kept.
    private var staleSince: [(version: UInt64, slots: [UInt32])] = []

    /// Where `place` builds a slot before streaming it into place.
    private let scratch = UnsafeMutablePointer<Slot>.allocate(capacity: 1)

    public init() {}

    deinit {
        releaseSlots()
        scratch.deallocate()
    }

    /// How many nodes are held, for tests of pruning.
    public var nodeCount: Int { slotCount - freeSlots.count }

    public func loadNode(_ key: NodeKey, placedAt slot: UInt32) -> TreeNode? {
        if Int(slot) < slotCount {
            let placed = self.slot(slot)
            if placed.pointee.holds(key) { return placed.pointee.node }
        }
        return loadNode(key)
    }

    /// The node written at `key`, found by walking its path from the first retained version at or
    /// after the one that wrote it (the map itself follows slots and rarely needs this).
    public func loadNode(_ key: NodeKey) -> TreeNode? {
        guard let start = roots.firstIndex(where: { $0.version >= key.version }) else { return nil }
        var reference = roots[start].root
        var path = NodePath.root
        while let current = reference, Int(current.slot) < slotCount {
            let placed = slot(current.slot)
            guard placed.pointee.holds(NodeKey(version: current.version, path: path)) else { return nil }
            let node = placed.pointee.node
            if path == key.path { return current.version == key.version ? node : nil }
            guard case let .inner(left, right) = node, path.depth < key.path.depth else { return nil }
            let goesRight = key.path.bits.bit(at: Int(path.depth))
            reference = goesRight ? right : left
            path = path.child(right: goesRight)
        }
        return nil
    }

    public func place(_ node: TreeNode, at key: NodeKey) -> UInt32 {
        let index: UInt32
        if let free = freeSlots.popLast() {
            index = free
        } else {
            precondition(slotCount < Int(ChildReference.notPlaced), "the in-memory state tree is full")
            if slotCount == chunks.count * Slot.perChunk { chunks.append(Slot.allocateChunk(hugePages: !chunks.isEmpty)) }
            if slotCount & 63 == 0 { leafSlots.append(0) }
            index = UInt32(slotCount)
            slotCount += 1
        }
        let bit: UInt64 = 1 << (index & 63)
        if case .leaf = node { leafSlots[Int(index >> 6)] |= bit } else { leafSlots[Int(index >> 6)] &= ~bit }
        // The node is built in `scratch` and its bytes streamed into the slot, which moves it
        // there (`scratch` is left uninitialized). A free slot holds nothing to release (an empty
        // array is never freed), so it is overwritten without being read: a read would wait on memory.
        scratch.initialize(to: Slot(node, at: key))
        tamga_stream_128(slot(index), scratch)
        return index
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
        tamga_store_fence()
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

    /// Frees a slot. Only a leaf's slot is touched, to release its value; an inner node's slot
    /// keeps its bytes until reused, since reading it in from memory would cost as much as the
    /// rest of the update. Nothing reads it meanwhile: only pruned versions name it.
    private func freeSlot(_ index: UInt32) {
        if leafSlots[Int(index >> 6)] & (1 << (index & 63)) != 0 { slot(index).pointee.clear() }
        freeSlots.append(index)
    }

    private func slot(_ index: UInt32) -> UnsafeMutablePointer<Slot> {
        chunks[Int(index &>> Slot.chunkShift)] + Int(index & UInt32(Slot.perChunk - 1))
    }

    /// Frees every slot and chunk, leaving an empty store.
    private func releaseSlots() {
        for (index, chunk) in chunks.enumerated() {
            chunk.deinitialize(count: min(Slot.perChunk, slotCount - index * Slot.perChunk))
            free(chunk)
        }
        chunks = []
        slotCount = 0
        freeSlots = []
        leafSlots = []
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

/// One node of an `InMemoryTreeNodeStore`, laid out in 128 bytes: the two hashes first (for an
/// inner node its children's, for a leaf its key hash), then what identifies the node and where
/// its children are.
private struct Slot {
    /// A left child's hash, or a leaf's key hash.
    var first: Hash
    /// A right child's hash.
    var second: Hash
    var version: UInt64
    /// The node's path: its first word, and the other three folded into one. Every path bit is
    /// checked, if not every combination, which is enough for a check that only guards against a
    /// reference outliving its node.
    var pathHead: UInt64
    var pathFold: UInt64
    var leftVersion: UInt64
    var rightVersion: UInt64
    /// A leaf's value; empty otherwise.
    var value: [UInt8]
    var leftSlot: UInt32
    var rightSlot: UInt32
    var depth: UInt16
    var shape: UInt8

    static let occupied: UInt8 = 1, leaf: UInt8 = 2, hasLeft: UInt8 = 4, leftIsLeaf: UInt8 = 8
    static let hasRight: UInt8 = 16, rightIsLeaf: UInt8 = 32

    /// 2 MiB of slots: one huge page.
    static let chunkShift: UInt32 = 14
    static let perChunk = 1 << chunkShift

    static func fold(_ path: Hash) -> UInt64 {
        path.w1 ^ (path.w2 &* 0x9e37_79b9_7f4a_7c15) ^ (path.w3 &* 0xc2b2_ae3d_27d4_eb4f)
    }

    init(_ node: TreeNode, at key: NodeKey) {
        version = key.version
        pathHead = key.path.bits.w0
        pathFold = Slot.fold(key.path.bits)
        depth = key.path.depth
        switch node {
        case let .leaf(keyHash, value):
            (first, second, self.value) = (keyHash, .zero, value)
            (leftVersion, rightVersion, leftSlot, rightSlot) = (0, 0, 0, 0)
            shape = Slot.occupied | Slot.leaf
        case let .inner(left, right):
            (first, leftVersion, leftSlot) = (left?.hash ?? .zero, left?.version ?? 0, left?.slot ?? 0)
            (second, rightVersion, rightSlot) = (right?.hash ?? .zero, right?.version ?? 0, right?.slot ?? 0)
            value = []
            shape = Slot.occupied | (left == nil ? 0 : Slot.hasLeft) | (left?.isLeaf == true ? Slot.leftIsLeaf : 0)
                | (right == nil ? 0 : Slot.hasRight) | (right?.isLeaf == true ? Slot.rightIsLeaf : 0)
        }
    }

    func holds(_ key: NodeKey) -> Bool {
        shape & Slot.occupied != 0 && version == key.version && depth == key.path.depth
            && pathHead == key.path.bits.w0 && pathFold == Slot.fold(key.path.bits)
    }

    /// The node held; call only when `holds` said so.
    var node: TreeNode {
        if shape & Slot.leaf != 0 { return .leaf(keyHash: first, value: value) }
        let left = shape & Slot.hasLeft == 0 ? nil
            : ChildReference(hash: first, version: leftVersion, isLeaf: shape & Slot.leftIsLeaf != 0, slot: leftSlot)
        let right = shape & Slot.hasRight == 0 ? nil
            : ChildReference(hash: second, version: rightVersion, isLeaf: shape & Slot.rightIsLeaf != 0, slot: rightSlot)
        return .inner(left: left, right: right)
    }

    /// Empties the slot, releasing a leaf's value.
    mutating func clear() {
        shape = 0
        value = []
    }

    /// Memory for `perChunk` slots, aligned to its size; with `hugePages`, offered for huge pages.
    static func allocateChunk(hugePages: Bool) -> UnsafeMutablePointer<Slot> {
        assert(MemoryLayout<Slot>.stride == 128, "a slot is two cache lines")
        let bytes = perChunk * MemoryLayout<Slot>.stride
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, bytes, bytes) == 0, let memory else { fatalError("out of memory for the state tree") }
        #if os(Linux)
        if hugePages { _ = madvise(memory, bytes, MADV_HUGEPAGE) }
        #endif
        return memory.bindMemory(to: Slot.self, capacity: perChunk)
    }
}
