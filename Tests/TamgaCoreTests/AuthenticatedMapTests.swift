import TamgaCore
import Testing

func key(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct AuthenticatedMapTests {
    @Test func emptyTreeHasZeroRootAndProvesAbsence() throws {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        #expect(try map.apply([], as: 1) == .zero)
        let (value, proof) = try map.proof(forKey: key("anything"), at: 1)
        #expect(value == nil)
        try proof.verifyExclusion(key: key("anything"), root: .zero)
    }

    @Test func goldenRoots() throws {
        // From scripts/encoding_vectors.py.
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        #expect(try map.apply([StateUpdate(key: key("party/bank-1"), value: key("A"))], as: 1).hex
            == "b6ae69bd3f35d0427ed945eee67771c21377b820d88f6d38eb3cc18456811772")
        #expect(try map.apply([StateUpdate(key: key("party/court-1"), value: key("B"))], as: 2).hex
            == "e67d38ffdda3f9143ba1564aa3bc64821cdf6e9846f5a5fae5dfda721ad754f7")
    }

    @Test func readsEveryRetainedVersion() throws {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        try map.apply([StateUpdate(key: key("a"), value: key("1")), StateUpdate(key: key("b"), value: key("1"))], as: 1)
        try map.apply([StateUpdate(key: key("a"), value: key("2"))], as: 2)
        try map.apply([StateUpdate(key: key("b"), value: nil)], as: 3)
        #expect(try map.value(forKey: key("a"), at: 1) == key("1"))
        #expect(try map.value(forKey: key("a"), at: 2) == key("2"))
        #expect(try map.value(forKey: key("b"), at: 2) == key("1"))
        #expect(try map.value(forKey: key("b"), at: 3) == nil)
        #expect(try map.value(forKey: key("a"), at: 3) == key("2"))
        #expect(throws: StateTreeError.unknownVersion(4)) { try map.value(forKey: key("a"), at: 4) }
        #expect(throws: StateTreeError.versionNotAfterLatest(version: 3, latest: 3)) { try map.apply([], as: 3) }
    }

    @Test func deletingEverythingReturnsToTheEmptyRoot() throws {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        let keys = (0..<50).map { key("k\($0)") }
        try map.apply(keys.map { StateUpdate(key: $0, value: $0) }, as: 1)
        #expect(try map.apply(keys.map { StateUpdate(key: $0, value: nil) }, as: 2) == .zero)
    }

    @Test func deletingAnAbsentKeyChangesNothing() throws {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        let root = try map.apply([StateUpdate(key: key("a"), value: key("1")), StateUpdate(key: key("b"), value: key("2"))], as: 1)
        #expect(try map.apply([StateUpdate(key: key("zzz"), value: nil)], as: 2) == root)
    }

    @Test func lastUpdateOfAKeyInABatchWins() throws {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        try map.apply([StateUpdate(key: key("a"), value: key("1")), StateUpdate(key: key("a"), value: key("2"))], as: 1)
        #expect(try map.value(forKey: key("a"), at: 1) == key("2"))
        try map.apply([StateUpdate(key: key("a"), value: key("3")), StateUpdate(key: key("a"), value: nil)], as: 2)
        #expect(try map.value(forKey: key("a"), at: 2) == nil)
    }

    /// The tree is canonical: its root depends only on its contents, not on the history of updates.
    @Test func rootDependsOnlyOnContents() throws {
        var random = SplitMix64(seed: 42)
        let incremental = AuthenticatedMap(store: InMemoryTreeNodeStore())
        var contents: [String: [UInt8]] = [:]
        for version in 1...40 {
            var updates: [StateUpdate] = []
            for _ in 0..<Int(random.next() % 20) {
                let name = "k\(random.next() % 60)"
                if random.next() % 3 == 0 {
                    updates.append(StateUpdate(key: key(name), value: nil))
                    contents[name] = nil
                } else {
                    let value = key("v\(random.next() % 1000)")
                    updates.append(StateUpdate(key: key(name), value: value))
                    contents[name] = value
                }
            }
            let root = try incremental.apply(updates, as: UInt64(version))
            let fresh = AuthenticatedMap(store: InMemoryTreeNodeStore())
            #expect(try fresh.apply(contents.map { StateUpdate(key: key($0.key), value: $0.value) }, as: 1) == root)
        }
    }

    @Test func pruningForgetsOldVersionsAndKeepsNewOnes() throws {
        let store = InMemoryTreeNodeStore()
        let map = AuthenticatedMap(store: store)
        for version in 1...10 {
            try map.apply((0..<20).map { StateUpdate(key: key("k\($0)"), value: key("v\(version)")) }, as: UInt64(version))
        }
        let before = store.nodeCount
        try store.prune(keepingFrom: 8)
        #expect(store.nodeCount < before)
        #expect(throws: StateTreeError.unknownVersion(7)) { try map.rootHash(at: 7) }
        for version in 8...10 {
            for index in 0..<20 {
                let (value, proof) = try map.proof(forKey: key("k\(index)"), at: UInt64(version))
                #expect(value == key("v\(version)"))
                try proof.verifyInclusion(key: key("k\(index)"), value: key("v\(version)"), root: try map.rootHash(at: UInt64(version)))
            }
        }
        // Pruning everything but the latest leaves exactly the latest tree's nodes.
        try store.prune(keepingFrom: 10)
        let latestOnly = InMemoryTreeNodeStore()
        try AuthenticatedMap(store: latestOnly).apply((0..<20).map { StateUpdate(key: key("k\($0)"), value: key("v10")) }, as: 1)
        #expect(store.nodeCount == latestOnly.nodeCount)
    }

    @Test func pruningFreesSlotsThatNewVersionsReuse() throws {
        let store = InMemoryTreeNodeStore()
        let map = AuthenticatedMap(store: store)
        let keys = (0..<40).map { key("k\($0)") }
        try map.apply(keys.map { StateUpdate(key: $0, value: key("v0")) }, as: 1)
        let oneVersion = store.nodeCount
        for version in 2...200 {
            try map.apply(keys.map { StateUpdate(key: $0, value: key("v\(version)")) }, as: UInt64(version))
            try store.prune(keepingFrom: UInt64(version))
            #expect(store.nodeCount == oneVersion)
        }
        for index in keys.indices {
            let (value, proof) = try map.proof(forKey: keys[index], at: 200)
            #expect(value == key("v200"))
            try proof.verifyInclusion(key: keys[index], value: key("v200"), root: try map.rootHash(at: 200))
        }
    }

    @Test func aSlotNamedByAReferenceIsCheckedAgainstTheNodesKey() throws {
        let store = InMemoryTreeNodeStore()
        let map = AuthenticatedMap(store: store)
        try map.apply((0..<20).map { StateUpdate(key: key("k\($0)"), value: key("v")) }, as: 1)
        let root = try #require(store.loadRoot(version: 1) ?? nil)
        let rootKey = NodeKey(version: 1, path: .root)
        guard case let .inner(left, _)? = store.loadNode(rootKey, placedAt: root.slot), let left else {
            Issue.record("the root of 20 records is an inner node with a left child")
            return
        }
        // A slot holding another node, or no slot at all: the node is found by its key instead.
        #expect(store.loadNode(rootKey, placedAt: left.slot) == store.loadNode(rootKey, placedAt: root.slot))
        #expect(store.loadNode(rootKey, placedAt: 1_000_000) == store.loadNode(rootKey, placedAt: root.slot))
        let leftKey = NodeKey(version: 1, path: NodePath.root.child(right: false))
        #expect(store.loadNode(leftKey, placedAt: root.slot) == store.loadNode(leftKey, placedAt: left.slot))
        #expect(store.loadNode(leftKey, placedAt: root.slot) != store.loadNode(rootKey, placedAt: root.slot))
        #expect(store.loadNode(NodeKey(version: 2, path: .root), placedAt: root.slot) == nil)
    }

    @Test func aPrunedNodeIsNotFoundOnceItsSlotIsReused() throws {
        let store = InMemoryTreeNodeStore()
        let map = AuthenticatedMap(store: store)
        try map.apply((0..<20).map { StateUpdate(key: key("k\($0)"), value: key("v1")) }, as: 1)
        let oldRoot = try #require(store.loadRoot(version: 1) ?? nil)
        let oldRootKey = NodeKey(version: 1, path: .root)
        try map.apply((0..<20).map { StateUpdate(key: key("k\($0)"), value: key("v2")) }, as: 2)
        try store.prune(keepingFrom: 2)
        // No retained version leads to the old root.
        #expect(store.loadNode(oldRootKey) == nil)
        #expect(throws: StateTreeError.unknownVersion(1)) { try map.rootHash(at: 1) }
        // Version 3 rewrites every node, reusing every slot freed above, the old root's too; the
        // slot's check sees that it now holds another node.
        try map.apply((0..<20).map { StateUpdate(key: key("k\($0)"), value: key("v3")) }, as: 3)
        #expect(store.loadNode(oldRootKey, placedAt: oldRoot.slot) == nil)
    }

    @Test func aTreeLargerThanOneChunkOfSlotsReadsBackWhole() throws {
        // 20,000 records need about 40,000 nodes: more than the 16,384 slots of one chunk.
        let store = InMemoryTreeNodeStore()
        let map = AuthenticatedMap(store: store)
        let records = (0..<20_000).map { StateUpdate(key: key("k\($0)"), value: key("v\($0)")) }
        try map.apply(records, as: 1)
        try map.apply(records.prefix(5_000).map { StateUpdate(key: $0.key, value: key("changed")) }, as: 2)
        try store.prune(keepingFrom: 2)
        #expect(store.nodeCount > 16_384)
        #expect(try map.audit(version: 2).count == records.count)
        let root = try map.rootHash(at: 2)
        for index in stride(from: 0, to: records.count, by: 997) {
            let expected = index < 5_000 ? key("changed") : key("v\(index)")
            let (value, proof) = try map.proof(forKey: records[index].key, at: 2)
            #expect(value == expected)
            try proof.verifyInclusion(key: records[index].key, value: expected, root: root)
        }
    }

    @Test func aLeafWrittenAndMovedUpInOneBatchLeavesNothingBehind() throws {
        // With only "a" and "b", changing "a" while deleting "b" writes a's new leaf below the
        // root and then moves it up to be the root: the first placement must not survive.
        let store = InMemoryTreeNodeStore()
        let map = AuthenticatedMap(store: store)
        try map.apply([StateUpdate(key: key("a"), value: key("1")), StateUpdate(key: key("b"), value: key("1"))], as: 1)
        let root = try map.apply([StateUpdate(key: key("a"), value: key("2")), StateUpdate(key: key("b"), value: nil)], as: 2)
        try store.prune(keepingFrom: 2)
        let fresh = InMemoryTreeNodeStore()
        #expect(try AuthenticatedMap(store: fresh).apply([StateUpdate(key: key("a"), value: key("2"))], as: 1) == root)
        #expect(store.nodeCount == 1 && fresh.nodeCount == 1)
        #expect(try map.audit(version: 2).map(\.value) == [key("2")])
    }

    @Test func refusesOversizeValues() {
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        let big = [UInt8](repeating: 0, count: Limits.stateValueBytesMax + 1)
        #expect(throws: StateTreeError.valueTooLarge(bytes: big.count)) { try map.apply([StateUpdate(key: key("a"), value: big)], as: 1) }
    }
}

/// The verifier is a security boundary: every kind of tampering must be refused.
@Suite struct StateProofTests {
    let map: AuthenticatedMap<InMemoryTreeNodeStore>
    let root: Hash

    init() throws {
        map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        root = try map.apply((0..<200).map { StateUpdate(key: key("property/\($0)"), value: key("passport \($0)")) }, as: 1)
    }

    @Test func everyRecordAndSomeAbsentKeysProve() throws {
        for index in 0..<200 {
            let (value, proof) = try map.proof(forKey: key("property/\(index)"), at: 1)
            #expect(value == key("passport \(index)"))
            try proof.verifyInclusion(key: key("property/\(index)"), value: key("passport \(index)"), root: root)
            #expect(throws: StateProofError.keyPresent) { try proof.verifyExclusion(key: key("property/\(index)"), root: root) }
            #expect(try StateProof.decode(proof.encoded()) == proof)
        }
        var sawEmpty = false, sawOtherLeaf = false
        for index in 0..<200 {
            let (value, proof) = try map.proof(forKey: key("absent/\(index)"), at: 1)
            #expect(value == nil)
            try proof.verifyExclusion(key: key("absent/\(index)"), root: root)
            #expect(throws: StateProofError.keyAbsent) { try proof.verifyInclusion(key: key("absent/\(index)"), value: [], root: root) }
            if case .empty = proof.terminal { sawEmpty = true } else { sawOtherLeaf = true }
        }
        #expect(sawEmpty && sawOtherLeaf)
    }

    @Test func tamperedProofsAreRejected() throws {
        let name = key("property/17")
        let value = key("passport 17")
        let (_, proof) = try map.proof(forKey: name, at: 1)
        #expect(proof.siblings.count >= 3)

        var wrongSibling = proof.siblings
        wrongSibling[1] = filled(0x5a)
        #expect(throws: StateProofError.rootMismatch) {
            try StateProof(siblings: wrongSibling, terminal: proof.terminal).verifyInclusion(key: name, value: value, root: root)
        }
        // Another key's proof or another key presented with this proof.
        #expect(throws: StateProofError.self) { try proof.verifyInclusion(key: key("property/18"), value: value, root: root) }
        #expect(throws: StateProofError.valueMismatch) { try proof.verifyInclusion(key: name, value: key("passport 18"), root: root) }
        #expect(throws: StateProofError.rootMismatch) { try proof.verifyInclusion(key: name, value: value, root: filled(1)) }
        // Truncated and extended.
        #expect(throws: StateProofError.self) {
            try StateProof(siblings: Array(proof.siblings.dropLast()), terminal: proof.terminal).verifyInclusion(key: name, value: value, root: root)
        }
        #expect(throws: StateProofError.rootMismatch) {
            try StateProof(siblings: proof.siblings + [filled(3)], terminal: proof.terminal).verifyInclusion(key: name, value: value, root: root)
        }
        #expect(throws: StateProofError.nonCanonical) {
            try StateProof(siblings: proof.siblings + [.zero], terminal: proof.terminal).verifyInclusion(key: name, value: value, root: root)
        }
        // Swapped left and right: siblings exchanged between two levels.
        var swapped = proof.siblings
        swapped.swapAt(0, 1)
        #expect(throws: StateProofError.rootMismatch) {
            try StateProof(siblings: swapped, terminal: proof.terminal).verifyInclusion(key: name, value: value, root: root)
        }
        // Claiming absence with an empty terminal where the key's leaf is.
        #expect(throws: StateProofError.rootMismatch) {
            try StateProof(siblings: proof.siblings, terminal: .empty).verifyExclusion(key: name, root: root)
        }
        #expect(throws: StateProofError.tooManySiblings(257)) {
            try StateProof(siblings: [Hash](repeating: filled(1), count: 257), terminal: .empty).verifyExclusion(key: name, root: root)
        }
    }

    @Test func aLeafFromElsewhereCannotProveAbsence() throws {
        // Put a genuine leaf of another key at the end of an absent key's path.
        let (_, other) = try map.proof(forKey: key("property/99"), at: 1)
        guard case let .leaf(keyHash, _) = other.terminal else { Issue.record("expected a leaf"); return }
        var checked = 0
        for index in 0..<20 {
            let absent = key("absent/\(index)")
            let (_, mine) = try map.proof(forKey: absent, at: 1)
            guard keyHash.commonPrefixLength(with: .sha256(absent)) < mine.siblings.count else { continue }
            #expect(throws: StateProofError.leafOffPath) {
                try StateProof(siblings: mine.siblings, terminal: other.terminal).verifyExclusion(key: absent, root: root)
            }
            checked += 1
        }
        #expect(checked > 10)
    }

    @Test func decodingIsStrict() throws {
        let (_, proof) = try map.proof(forKey: key("property/3"), at: 1)
        let encoded = proof.encoded()
        #expect(throws: CodecError.trailingBytes(count: 1)) { try StateProof.decode(encoded + [0]) }
        var badTerminal = encoded
        badTerminal[2 + 32 * proof.siblings.count] = 9
        #expect(throws: CodecError.self) { try StateProof.decode(badTerminal) }
        #expect(throws: CodecError.lengthExceedsLimit(field: "siblings", length: 257, limit: 256)) { try StateProof.decode([0x01, 0x01]) }
    }
}
