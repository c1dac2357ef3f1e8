import Foundation
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaSimulation
@testable import TamgaStorage
import GRDB
import Testing

@Suite("The state tree on disk")
struct StateStorageTests {
    private func temporaryStore() throws -> (NodeStore, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (try NodeStore(path: directory.appendingPathComponent("node.sqlite").path), directory)
    }

    @Test("with a cache of 64 KiB for about 12,000 nodes, the map on disk gives the in-memory map's roots, values and proofs, at every kept version and after reopening; the cache stays within its budget")
    func diskMatchesMemory() throws {
        let (store, directory) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let budget = 64 << 10
        let disk = try DiskTreeNodeStore(store, cacheBytes: budget)
        let onDisk = AuthenticatedMap(store: disk)
        let inMemory = AuthenticatedMap(store: InMemoryTreeNodeStore())
        var random = SplitMix64(seed: 42)
        func key(_ index: UInt64) -> [UInt8] { Array("record/\(index)".utf8) }
        var roots: [UInt64: Hash] = [:]
        for version in UInt64(1)...12 {
            // Inserts, changes and deletions of 3,000 keys, about 12,000 nodes in all.
            let updates = (0..<(version == 1 ? 2_000 : 300)).map { _ in
                let index = random.next() % 3_000
                return StateUpdate(key: key(index), value: random.next() % 7 == 0 ? nil : Array("value \(random.next())".utf8))
            }
            let expected = try inMemory.apply(updates, as: version)
            #expect(try onDisk.apply(updates, as: version) == expected)
            try store.saveState(disk.pendingBatches)
            disk.written()
            roots[version] = expected
            #expect(disk.cacheBytes <= budget)
        }
        let reopened = AuthenticatedMap(store: try DiskTreeNodeStore(store, cacheBytes: budget))
        for map in [onDisk, reopened] {
            for version in [UInt64(1), 6, 12] {
                #expect(try map.rootHash(at: version) == roots[version])
                for index in stride(from: UInt64(0), to: 3_000, by: 37) {
                    let (value, proof) = try map.proof(forKey: key(index), at: version)
                    let (expectedValue, expectedProof) = try inMemory.proof(forKey: key(index), at: version)
                    #expect(value == expectedValue && proof == expectedProof)
                }
            }
            #expect(try map.audit(version: 12).count == (try inMemory.audit(version: 12).count))
        }
    }

    @Test("pruning deletes exactly the nodes only pruned versions held, a bounded number per block, oldest first; the kept versions read and prove as before")
    func pruningIsBoundedAndExact() throws {
        // Two databases with the same eight versions: one pruned as a node does, one by the
        // single statement pruning used before (the reference for which rows must stay).
        func build() throws -> (NodeStore, URL) {
            let (store, directory) = try temporaryStore()
            let disk = try DiskTreeNodeStore(store, cacheBytes: 1 << 20)
            let map = AuthenticatedMap(store: disk)
            var random = SplitMix64(seed: 7)
            for version in UInt64(1)...8 {
                let updates = (0..<(version == 1 ? 2_000 : 300)).map { _ in
                    StateUpdate(key: Array("record/\(random.next() % 3_000)".utf8), value: random.next() % 7 == 0 ? nil : Array("value \(random.next())".utf8))
                }
                _ = try map.apply(updates, as: version)
                try store.saveState(disk.pendingBatches)
                disk.written()
            }
            return (store, directory)
        }
        let (store, directory) = try build(), (reference, referenceDirectory) = try build()
        defer { for folder in [directory, referenceDirectory] { try? FileManager.default.removeItem(at: folder) } }
        func count(_ sql: String, _ store: NodeStore) throws -> Int { try store.database.read { try Int.fetchOne($0, sql: sql) ?? 0 } }
        let roots = try (6...8).map { try #require(try store.storedRoot(version: $0)) }

        try reference.database.write { db in
            try db.execute(sql: "DELETE FROM tree_nodes WHERE (version, depth, bits) IN (SELECT version, depth, bits FROM tree_stale WHERE since <= 6)")
        }
        let due = "SELECT since FROM tree_stale WHERE since <= 6 ORDER BY since, rowid"
        let order = try store.database.read { try Int.fetchAll($0, sql: due) }
        let stale = order.count
        #expect(stale > 5_000, "versions 2 to 6 left \(stale) nodes behind")
        #expect(try count("SELECT COUNT(*) FROM tree_stale WHERE since > 6", store) > 1_000, "versions 7 and 8 left nodes behind too")
        for pass in 1...4 {
            let before = try count("SELECT COUNT(*) FROM tree_nodes", store)
            let backlog = try store.database.write { try NodeStore.prune(before: 6, upTo: 500, $0) }
            // The versions before 6 are unreadable from the first pass on; each pass deletes the
            // oldest 500 due, and only those, and tells how many versions are still behind.
            #expect(try store.storedRoot(version: 5) == nil)
            #expect(before - (try count("SELECT COUNT(*) FROM tree_nodes", store)) == 500)
            #expect(try store.database.read { try Int.fetchAll($0, sql: due) } == Array(order.dropFirst(pass * 500)))
            #expect(backlog == UInt64(6 - order[pass * 500] + 1))
        }
        // A block that prunes nothing (an archive node now) still clears the rest of the backlog:
        // version 6 is the oldest stored, so what went stale by then is used by no stored version.
        #expect(try store.database.write { try NodeStore.prune(withBlockBefore: nil, madeStale: 0, $0) } == 0)
        #expect(try count("SELECT COUNT(*) FROM tree_stale WHERE since <= 6", store) == 0)
        let rows = "SELECT version, depth, bits FROM tree_nodes ORDER BY version, depth, bits"
        #expect(try store.database.read { try Row.fetchAll($0, sql: rows) } == (try reference.database.read { try Row.fetchAll($0, sql: rows) }))

        // Every node of the kept versions is there and checks against its root.
        let map = AuthenticatedMap(store: try DiskTreeNodeStore(store, cacheBytes: 0))
        for (offset, version) in (UInt64(6)...8).enumerated() {
            #expect(try map.rootHash(at: version) == roots[offset])
            #expect(try map.audit(version: version).count > 1_000)
        }
    }

    @Test("a version saved but not yet written is read from memory; one the node has not written is never on disk")
    func pendingVersionsStayInMemoryUntilWritten() throws {
        let (store, directory) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = try DiskTreeNodeStore(store, cacheBytes: 1 << 20)
        let map = AuthenticatedMap(store: disk)
        let root = try map.apply([StateUpdate(key: Array("a".utf8), value: Array("1".utf8))], as: 1)
        #expect(try map.value(forKey: Array("a".utf8), at: 1) == Array("1".utf8))
        #expect(try store.storedRoot(version: 1) == nil)
        // A store opened on the same database meanwhile (a crash before the block was written) has no such version.
        #expect(try DiskTreeNodeStore(store, cacheBytes: 1 << 20).latestVersion() == nil)
        try store.saveState(disk.pendingBatches)
        disk.written()
        #expect(try store.storedRoot(version: 1) == root)
        #expect(try AuthenticatedMap(store: try DiskTreeNodeStore(store, cacheBytes: 0)).value(forKey: Array("a".utf8), at: 1) == Array("1".utf8))
    }

    @Test("an archive node keeps the state of every block; a node that keeps two versions answers history.pruned for older blocks")
    func archiveKeepsEveryVersion() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        var config = try network.homes[0].loadConfig()
        config.stateVersionsKept = 2
        try writeJSON(config, to: network.homes[0].configURL)
        let number = try CadastralNumber("01-001-001-1")
        let citizen = try TestSigner("citizen-1", in: network)
        for archive in [false, true] {
            config.archive = archive
            try writeJSON(config, to: network.homes[0].configURL)
            let node = try Node(home: network.homes[0], logger: quietLogger)
            let running = start(node)
            let target = Height(await node.status().height.rawValue + 4)
            // Transactions, not idle empty blocks, move the chain on: a lone node on a loaded
            // machine may wait long between empty blocks.
            while await node.status().height < target {
                let stored = try await node.waitForCommit(try await node.submit(try transfer(citizen, to: "citizen-2")), timeout: commitTimeout)
                try #require(stored != nil, "no block within \(commitTimeout)")
            }
            await stop(running)
            if archive {
                // Versions written while the node was not an archive are gone; every one since is kept.
                let from = target.rawValue - 4
                for height in (from + 1)...target.rawValue { _ = try await node.passport(number, atBlock: Height(height)) }
                _ = try await node.extractParts(number, atBlock: Height(from + 1))
            } else {
                await #expect(throws: HistoryError.pruned(Height(1))) { _ = try await node.passport(number, atBlock: Height(1)) }
            }
        }
    }
}
