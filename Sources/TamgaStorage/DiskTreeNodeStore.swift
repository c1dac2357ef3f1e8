public import TamgaCore
import Foundation
import GRDB

/// The state tree as a node keeps it: its nodes in the database (`tree_nodes`, `tree_roots`), read
/// on demand through a bounded cache, so that a node's memory is set by its configuration and not
/// by the size of the register.
///
/// A version the map saves is held here, readable, until `NodeStore.commit` has written it with
/// its block (`pendingBatches`, then `written()`); nothing is written behind the node's back.
/// Every node read from the database is checked against the hash its parent names before it is
/// used or cached, so an edited row is refused when it is reached (`StateTreeError.hashMismatch`),
/// and the node never serves or executes on it. `tamga audit` reads every node at once.
///
/// Not `Sendable`: the node's actor is its one user.
public final class DiskTreeNodeStore: TreeNodeStore {
    private let database: DatabasePool
    private var cache: TreeNodeCache
    /// Versions saved and not yet written, oldest first, and their nodes by key.
    private var pending: [TreeWriteBatch] = []
    private var pendingNodes: [NodeKey: TreeNode] = [:]
    /// The newest version in the database, and the oldest still readable (older ones are pruned).
    private var writtenLatest: UInt64?
    private var oldestKept: UInt64 = 0
    /// Recently read roots by version: every read of the latest state starts with one.
    private var roots: [UInt64: ChildReference?] = [:]

    /// The store over `store`'s database, caching decoded nodes up to about `cacheBytes`.
    public init(_ store: NodeStore, cacheBytes: Int) throws {
        database = store.database
        cache = TreeNodeCache(capacityBytes: cacheBytes)
        writtenLatest = try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM tree_roots") }.map(UInt64.init)
    }

    /// How many bytes the cache holds, by its estimate.
    public var cacheBytes: Int { cache.bytes }

    public func loadNode(_ key: NodeKey) throws -> TreeNode? {
        if let node = pendingNodes[key] ?? cache[key]?.node { return node }
        return try Self.readNode(key, database)
    }

    /// A node read from the database is cached with the hash it was checked against, and a later
    /// reference must name that same hash: a node that came in through one reference (say an
    /// edited root of an old version) never answers for another. Nodes this store wrote itself
    /// are cached without one.
    public func loadNode(_ key: NodeKey, namedBy reference: ChildReference) throws -> TreeNode? {
        if let node = pendingNodes[key] { return node }
        if let cached = cache[key] {
            guard cached.hash == nil || cached.hash == reference.hash else { throw StateTreeError.hashMismatch(key) }
            return cached.node
        }
        guard let node = try Self.readNode(key, database) else { return nil }
        guard node.hash == reference.hash else { throw StateTreeError.hashMismatch(key) }
        cache.insert(node, checkedAgainst: reference.hash, at: key)
        return node
    }

    public func loadRoot(version: UInt64) throws -> ChildReference?? {
        guard version >= oldestKept else { return nil }
        if let batch = pending.first(where: { $0.version == version }) { return .some(batch.root) }
        if let root = roots[version] { return .some(root) }
        guard let root = try Self.readRoot(version: version, database) else { return nil }
        if roots.count >= 64 { roots = [:] }
        roots[version] = root
        return .some(root)
    }

    public func latestVersion() -> UInt64? { pending.last?.version ?? writtenLatest }

    public func save(_ batch: TreeWriteBatch) throws {
        if let latest = latestVersion(), batch.version <= latest {
            throw StateTreeError.versionNotAfterLatest(version: batch.version, latest: latest)
        }
        pending.append(batch)
        for (key, node) in batch.nodes { pendingNodes[key] = node }
    }

    /// Versions older than `version` become unreadable here at once; `NodeStore.commit` deletes
    /// their rows with the block that makes them old.
    public func prune(keepingFrom version: UInt64) {
        oldestKept = max(oldestKept, version)
        roots = roots.filter { $0.key >= oldestKept }
    }

    /// The versions saved since the last `written()`, for `NodeStore.commit` to write.
    public var pendingBatches: [TreeWriteBatch] { pending }

    /// Says that `pendingBatches` are in the database: their nodes move to the cache.
    public func written() {
        for batch in pending {
            for (key, node) in batch.nodes { cache.insert(node, checkedAgainst: nil, at: key) }
            writtenLatest = batch.version
        }
        pending = []
        pendingNodes = [:]
    }

    /// Reads again which version is the newest in the database, after versions were written
    /// around this store (a state fetched by state sync).
    public func refreshLatest() throws {
        precondition(pending.isEmpty, "no version may be pending while others are written around the store")
        writtenLatest = try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM tree_roots") }.map(UInt64.init)
        roots = [:]
    }

    // MARK: Reading the tables

    static func readNode(_ key: NodeKey, _ reader: some DatabaseReader) throws -> TreeNode? {
        let bytes = try reader.unsafeReentrantRead { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT node FROM tree_nodes WHERE version = ? AND depth = ? AND bits = ?"),
                              arguments: [Int64(key.version), Int64(key.path.depth), Data(key.path.bits.bytes)])
        }
        return try bytes.map { try decodeRow(TreeNode.self, $0, table: "tree_nodes") }
    }

    /// The root stored for `version`: `.some(nil)` for an empty tree, nil if not stored.
    static func readRoot(version: UInt64, _ reader: some DatabaseReader) throws -> ChildReference?? {
        guard let stored = Int64(exactly: version) else { return nil }
        guard let row = try reader.unsafeReentrantRead({ db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT root FROM tree_roots WHERE version = ?"), arguments: [stored])
        }) else { return nil }
        let bytes: Data? = row["root"]
        return .some(try bytes.map { try decodeRow(ChildReference.self, $0, table: "tree_roots") })
    }
}

/// Decoded tree nodes, bounded by an estimate of their bytes, evicted by the clock algorithm (a
/// node read since the hand last passed it gets another turn). The tree's upper levels, which
/// every read passes through, stay; the leaves of records not read lately go.
struct TreeNodeCache {
    private let capacityBytes: Int
    private var index: [NodeKey: Int32] = [:]
    private var keys: [NodeKey] = []
    private var nodes: [TreeNode?] = []
    private var hashes: [Hash?] = []
    private var sizes: [Int32] = []
    private var referenced: [Bool] = []
    private var free: [Int32] = []
    private var hand = 0
    private(set) var bytes = 0

    init(capacityBytes: Int) { self.capacityBytes = max(0, capacityBytes) }

    subscript(key: NodeKey) -> (node: TreeNode, hash: Hash?)? {
        mutating get {
            guard let slot = index[key], let node = nodes[Int(slot)] else { return nil }
            referenced[Int(slot)] = true
            return (node, hashes[Int(slot)])
        }
    }

    /// What one entry costs, roughly: the node and its key in the arrays, the index entry, and a
    /// leaf's value on the heap.
    static func cost(_ node: TreeNode) -> Int {
        switch node {
        case let .leaf(_, value): 256 + value.count
        case .inner: 256
        }
    }

    mutating func insert(_ node: TreeNode, checkedAgainst hash: Hash?, at key: NodeKey) {
        guard index[key] == nil else { return }
        let cost = Self.cost(node)
        guard cost <= capacityBytes else { return }
        while bytes + cost > capacityBytes { evictOne() }
        let slot: Int32
        if let reused = free.popLast() {
            slot = reused
            (keys[Int(slot)], nodes[Int(slot)], hashes[Int(slot)], sizes[Int(slot)], referenced[Int(slot)]) = (key, node, hash, Int32(cost), false)
        } else {
            slot = Int32(keys.count)
            keys.append(key)
            nodes.append(node)
            hashes.append(hash)
            sizes.append(Int32(cost))
            referenced.append(false)
        }
        index[key] = slot
        bytes += cost
    }

    private mutating func evictOne() {
        while true {
            if hand >= keys.count { hand = 0 }
            let slot = hand
            hand += 1
            guard nodes[slot] != nil else { continue }
            if referenced[slot] {
                referenced[slot] = false
                continue
            }
            index[keys[slot]] = nil
            nodes[slot] = nil
            bytes -= Int(sizes[slot])
            free.append(Int32(slot))
            return
        }
    }
}
