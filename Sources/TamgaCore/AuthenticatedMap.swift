/// Why the authenticated map could not answer or write.
public enum StateTreeError: CodedError, Equatable {
    case unknownVersion(UInt64)
    case versionNotAfterLatest(version: UInt64, latest: UInt64)
    case missingNode(NodeKey)
    case valueTooLarge(bytes: Int)
    case hashMismatch(NodeKey)

    public var code: String {
        switch self {
        case .unknownVersion: "state.unknown_version"
        case .versionNotAfterLatest: "state.version_not_after_latest"
        case .missingNode: "state.missing_node"
        case .valueTooLarge: "state.value_too_large"
        case .hashMismatch: "state.hash_mismatch"
        }
    }

    public var message: String {
        switch self {
        case let .unknownVersion(version): "state version \(version) was never written or has been pruned"
        case let .versionNotAfterLatest(version, latest): "version \(version) does not follow the latest version \(latest)"
        case let .missingNode(key): "the node written at version \(key.version), depth \(key.path.depth) is missing: the store is damaged"
        case let .valueTooLarge(bytes): "a value of \(bytes) bytes exceeds \(Limits.stateValueBytesMax)"
        case let .hashMismatch(key): "the node written at version \(key.version), depth \(key.path.depth) does not hash to what its parent names: the store was altered"
        }
    }
}

/// A change to one record: a new value, or nil to delete the record.
public struct StateUpdate: Hashable, Sendable {
    public let key: [UInt8]
    public let value: [UInt8]?

    public init(key: [UInt8], value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// The authenticated, versioned map that holds the ledger's state.
///
/// A sparse Merkle tree over SHA-256 of each record key, stored compactly: a subtree holding one
/// record is just that record's leaf, and a subtree holding none is absent (its hash is zero). So a
/// tree of n random keys is about log₂ n deep, and an update rewrites that many nodes. Every
/// version is immutable; `apply(_:as:)` writes a new version on top of the latest, and any retained
/// version can be read and proven.
///
/// ```swift
/// let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
/// let root = try map.apply([StateUpdate(key: Array("party/bank-1".utf8), value: record)], as: 1)
/// let (value, proof) = try map.proof(forKey: Array("party/bank-1".utf8), at: 1)
/// try proof.verifyInclusion(key: Array("party/bank-1".utf8), value: record, root: root)
/// ```
public struct AuthenticatedMap<Store: TreeNodeStore> {
    public let store: Store

    public init(store: Store) { self.store = store }

    /// The root hash of `version` (zero for an empty tree).
    public func rootHash(at version: UInt64) throws -> Hash {
        try root(at: version)?.hash ?? .zero
    }

    /// The value stored under `key` at `version`, or nil if there is none.
    public func value(forKey key: [UInt8], at version: UInt64) throws -> [UInt8]? {
        let keyHash = Hash.sha256(key)
        if version == (try store.latestVersion()) {
            switch try store.loadLatestValue(keyHash: keyHash) {
            case let .present(value): return value
            case .absent: return nil
            case .unindexed: break
            }
        }
        return try lookup(keyHash: keyHash, at: version, collectingSiblings: false).value
    }

    /// The value under `key` at `version` (nil if absent) with a proof of it against that version's root.
    public func proof(forKey key: [UInt8], at version: UInt64) throws -> (value: [UInt8]?, proof: StateProof) {
        let found = try lookup(keyHash: .sha256(key), at: version, collectingSiblings: true)
        return (found.value, StateProof(siblings: found.siblings, terminal: found.terminal))
    }

    /// Applies `updates` on top of the latest version and saves the result as `version`.
    ///
    /// If one key appears more than once, its last update wins. Deleting an absent key changes
    /// nothing. Returns the new root hash.
    @discardableResult
    public func apply(_ updates: [StateUpdate], as version: UInt64) throws -> Hash {
        let latest = try store.latestVersion()
        if let latest, version <= latest { throw StateTreeError.versionNotAfterLatest(version: version, latest: latest) }
        for update in updates {
            if let value = update.value, value.count > Limits.stateValueBytesMax {
                throw StateTreeError.valueTooLarge(bytes: value.count)
            }
        }
        let base = try latest.map { try root(at: $0) } ?? nil
        let pending = PendingUpdate.sortedLastWins(updates)
        var builder = BatchBuilder(store: store, version: version, expectedUpdates: pending.count)
        do {
            let newRoot = try builder.update(base, at: .root, pending[...])
            try store.save(TreeWriteBatch(version: version, root: newRoot, nodes: builder.nodes, staleNodes: builder.stale,
                                          values: pending.map { ($0.keyHash, $0.value) }))
            return newRoot?.hash ?? .zero
        } catch {
            store.discard(builder.placed)
            throw error
        }
    }

    /// Reads every node of `version`, recomputes each hash from the node's contents and checks
    /// it against the hash its parent (or the root record) names, and returns every record.
    /// A store edited behind the map's back fails here with `hashMismatch` or `missingNode`.
    public func audit(version: UInt64) throws -> [(keyHash: Hash, value: [UInt8])] {
        var records: [(keyHash: Hash, value: [UInt8])] = []
        try audit(version: version) { records.append(($0, $1)) }
        return records
    }

    /// `audit(version:)` handing each record to `visit` as it is reached, in key-hash order, so
    /// that a state larger than memory can be audited; it holds one path of the tree at a time.
    public func audit(version: UInt64, visiting visit: (_ keyHash: Hash, _ value: [UInt8]) throws -> Void) throws {
        var pending: [(reference: ChildReference, path: NodePath)] = try root(at: version).map { [($0, .root)] } ?? []
        while let (reference, path) = pending.popLast() {
            let node = try store.node(reference, at: path)
            guard node.hash == reference.hash else { throw StateTreeError.hashMismatch(NodeKey(version: reference.version, path: path)) }
            switch node {
            case let .leaf(keyHash, value):
                try visit(keyHash, value)
            case let .inner(left, right):
                if let right { pending.append((right, path.child(right: true))) }
                if let left { pending.append((left, path.child(right: false))) }
            }
        }
    }

    // MARK: Snapshots (state sync)

    /// The top of `version`'s snapshot: what the tree holds under each prefix (`StateSnapshot`).
    public func snapshotTop(at version: UInt64) throws -> [StateSnapshot.Summary] {
        var top = [StateSnapshot.Summary](repeating: .empty, count: StateSnapshot.prefixCount)
        var pending: [(reference: ChildReference, path: NodePath)] = try root(at: version).map { [($0, .root)] } ?? []
        while let (reference, path) = pending.popLast() {
            if Int(path.depth) == StateSnapshot.prefixBits, !reference.isLeaf {
                top[StateSnapshot.prefix(of: path.bits)] = .subtree(reference.hash)
                continue
            }
            switch try store.node(reference, at: path) {
            case let .leaf(keyHash, value):
                top[StateSnapshot.prefix(of: keyHash)] = StateSnapshot.leaf(keyHash, value)
            case let .inner(left, right):
                if let left { pending.append((left, path.child(right: false))) }
                if let right { pending.append((right, path.child(right: true))) }
            }
        }
        return top
    }

    /// The records of `version` under `prefix`, in key-hash order.
    public func snapshotRecords(prefix: Int, at version: UInt64) throws -> [StateSnapshot.Record] {
        let target = StateSnapshot.path(of: prefix)
        var current = try root(at: version)
        var path = NodePath.root
        while let reference = current, Int(path.depth) < StateSnapshot.prefixBits {
            switch try store.node(reference, at: path) {
            case let .leaf(keyHash, value):
                return StateSnapshot.prefix(of: keyHash) == prefix ? [StateSnapshot.Record(keyHash: keyHash, value: value)] : []
            case let .inner(left, right):
                let goesRight = target.bits.bit(at: Int(path.depth))
                current = goesRight ? right : left
                path = path.child(right: goesRight)
            }
        }
        guard let subtree = current else { return [] }
        var records: [StateSnapshot.Record] = []
        var pending = [(reference: subtree, path: path)]
        while let (reference, path) = pending.popLast() {
            switch try store.node(reference, at: path) {
            case let .leaf(keyHash, value):
                records.append(StateSnapshot.Record(keyHash: keyHash, value: value))
            case let .inner(left, right):
                if let right { pending.append((right, path.child(right: true))) }
                if let left { pending.append((left, path.child(right: false))) }
            }
        }
        return records
    }

    /// Checks that the root node of `version` hashes to the root hash recorded for it: the one
    /// node every read of that version passes through.
    public func checkRoot(version: UInt64) throws {
        guard let reference = try root(at: version) else { return }
        let node = try store.node(reference, at: .root)
        guard node.hash == reference.hash else { throw StateTreeError.hashMismatch(NodeKey(version: reference.version, path: .root)) }
    }

    private func root(at version: UInt64) throws -> ChildReference? {
        guard let root = try store.loadRoot(version: version) else { throw StateTreeError.unknownVersion(version) }
        return root
    }

    private func lookup(keyHash: Hash, at version: UInt64, collectingSiblings: Bool)
        throws -> (value: [UInt8]?, siblings: [Hash], terminal: StateProof.Terminal)
    {
        var current = try root(at: version)
        var path = NodePath.root
        var siblings: [Hash] = []
        while let reference = current {
            switch try store.node(reference, at: path) {
            case let .leaf(leafKeyHash, value):
                let terminal = StateProof.Terminal.leaf(keyHash: leafKeyHash, valueHash: .sha256(value))
                return (leafKeyHash == keyHash ? value : nil, siblings, terminal)
            case let .inner(left, right):
                let goesRight = keyHash.bit(at: Int(path.depth))
                if collectingSiblings { siblings.append((goesRight ? left : right)?.hash ?? .zero) }
                current = goesRight ? right : left
                path = path.child(right: goesRight)
            }
        }
        return (nil, siblings, .empty)
    }
}

extension TreeNodeStore {
    /// The node `reference` names at `path`.
    fileprivate func node(_ reference: ChildReference, at path: NodePath) throws -> TreeNode {
        let key = NodeKey(version: reference.version, path: path)
        guard let node = try loadNode(key, namedBy: reference) else { throw StateTreeError.missingNode(key) }
        return node
    }
}

/// An update with its key hashed, in key-hash order.
private struct PendingUpdate {
    let keyHash: Hash
    let value: [UInt8]?

    static func sortedLastWins(_ updates: [StateUpdate]) -> [PendingUpdate] {
        let hashed = updates.enumerated().map { (offset: $0.offset, update: PendingUpdate(keyHash: .sha256($0.element.key), value: $0.element.value)) }
        let sorted = hashed.sorted { ($0.update.keyHash, $0.offset) < ($1.update.keyHash, $1.offset) }
        var result: [PendingUpdate] = []
        result.reserveCapacity(sorted.count)
        for entry in sorted {
            if result.last?.keyHash == entry.update.keyHash { result.removeLast() }
            result.append(entry.update)
        }
        return result
    }
}

/// Builds one new version: walks the old tree along the updated keys, writing new nodes and
/// recording the old ones as stale.
private struct BatchBuilder<Store: TreeNodeStore> {
    let store: Store
    let version: UInt64
    /// New nodes in the order written (a leaf moved later in the batch is taken out again).
    private(set) var nodes: [(key: NodeKey, node: TreeNode)] = []
    /// Where the store placed each of `nodes`.
    private(set) var placed: [UInt32] = []
    var stale: [(key: NodeKey, slot: UInt32)] = []

    init(store: Store, version: UInt64, expectedUpdates: Int) {
        self.store = store
        self.version = version
        // At a million records an update writes and makes stale about 13 nodes; reserving room
        // for 16 saves growing the lists a few times per version.
        nodes.reserveCapacity(expectedUpdates * 16)
        placed.reserveCapacity(expectedUpdates * 16)
        stale.reserveCapacity(expectedUpdates * 16)
    }

    /// The new subtree at `path` after applying `updates`, all of whose keys lie under `path`.
    mutating func update(_ child: ChildReference?, at path: NodePath, _ updates: ArraySlice<PendingUpdate>) throws -> ChildReference? {
        guard !updates.isEmpty else { return child }
        guard let child else {
            return write(subtreeOf: updates.compactMap { update in update.value.map { (update.keyHash, $0) } }[...], at: path)
        }
        let key = NodeKey(version: child.version, path: path)
        switch try store.node(child, at: path) {
        case let .leaf(leafKeyHash, leafValue):
            var records: [(Hash, [UInt8])] = []
            var isLeafReplaced = false
            for update in updates {
                if update.keyHash == leafKeyHash { isLeafReplaced = true }
                if let value = update.value { records.append((update.keyHash, value)) }
            }
            // Only deletions of keys that are not here: nothing changes.
            guard isLeafReplaced || !records.isEmpty else { return child }
            if !isLeafReplaced {
                let position = records.firstIndex { $0.0 > leafKeyHash } ?? records.endIndex
                records.insert((leafKeyHash, leafValue), at: position)
            }
            stale.append((key, child.slot))
            return write(subtreeOf: records[...], at: path)
        case let .inner(left, right):
            let depth = Int(path.depth)
            let split = firstIndexGoingRight(updates, depth: depth)
            let newLeft = try update(left, at: path.child(right: false), updates[..<split])
            let newRight = try update(right, at: path.child(right: true), updates[split...])
            if newLeft == left && newRight == right { return child }
            stale.append((key, child.slot))
            return try joining(newLeft, newRight, at: path)
        }
    }

    /// A parent for two new children, collapsing a lone leaf upwards so that the tree stays canonical.
    private mutating func joining(_ left: ChildReference?, _ right: ChildReference?, at path: NodePath) throws -> ChildReference? {
        switch (left, right) {
        case (nil, nil):
            return nil
        case let (leaf?, nil) where leaf.isLeaf:
            return try moving(leaf, from: path.child(right: false), to: path)
        case let (nil, leaf?) where leaf.isLeaf:
            return try moving(leaf, from: path.child(right: true), to: path)
        default:
            return write(.inner(left: left, right: right), at: path)
        }
    }

    private mutating func moving(_ leaf: ChildReference, from oldPath: NodePath, to newPath: NodePath) throws -> ChildReference {
        let oldKey = NodeKey(version: leaf.version, path: oldPath)
        let node: TreeNode
        if leaf.version == version {
            // Written earlier in this batch; it was never saved, so it is dropped rather than made stale.
            // It was written moments ago, by the subtree just built: search from the end.
            guard let position = nodes.lastIndex(where: { $0.key == oldKey }) else { preconditionFailure("a leaf of this batch is missing") }
            node = nodes.remove(at: position).node
            store.discard([placed.remove(at: position)])
        } else {
            node = try store.node(leaf, at: oldPath)
            stale.append((oldKey, leaf.slot))
        }
        return write(node, at: newPath)
    }

    /// A fresh subtree holding `records` (sorted by key hash, distinct), all under `path`.
    private mutating func write(subtreeOf records: ArraySlice<(Hash, [UInt8])>, at path: NodePath) -> ChildReference? {
        buildSubtree(records, at: path) { node, path in write(node, at: path) }
    }

    private mutating func write(_ node: TreeNode, at path: NodePath) -> ChildReference {
        let key = NodeKey(version: version, path: path)
        let isLeaf = if case .leaf = node { true } else { false }
        let slot = store.place(node, at: key)
        placed.append(slot)
        nodes.append((key, node))
        return ChildReference(hash: node.hash, version: version, isLeaf: isLeaf, slot: slot)
    }

    /// Binary search: updates are sorted and share the first `depth` bits, so those going left come first.
    private func firstIndexGoingRight(_ updates: ArraySlice<PendingUpdate>, depth: Int) -> Int {
        var low = updates.startIndex
        var high = updates.endIndex
        while low < high {
            let middle = (low + high) / 2
            if updates[middle].keyHash.bit(at: depth) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
