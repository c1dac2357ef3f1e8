import Foundation
import GRDB
import NIOCore
import NIOPosix
import NIOSSL
import TamgaConsensus
import TamgaCore
import TamgaLedger
@testable import TamgaNetwork
import TamgaNode
import TamgaStorage
import Testing

/// Runs a node in this process until the returned task is cancelled.
func start(_ node: Node) -> Task<Void, any Error> {
    Task { try await node.run() }
}

func stop(_ task: Task<Void, any Error>) async {
    task.cancel()
    _ = await task.result
}

func transfer(_ signer: TestSigner, to party: String, amount: UInt64 = 1_000) throws -> SignedEnvelope {
    try signer.sign(.transfer(Transfer(to: try PartyID(party), amount: Tiyn(amount))))
}

@Suite("A node on its own: commit, restart, refuse an edited database")
struct SingleNodeTests {
    @Test("a submitted transaction is committed, and survives a restart with the same chain and state")
    func commitAndRestart() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let citizen = try TestSigner("citizen-1", in: network)
        var node = try Node(home: network.homes[0], logger: quietLogger)
        var running = start(node)
        let envelope = try transfer(citizen, to: "citizen-2")
        let id = try await node.submit(envelope)
        // Submitting again returns the same id and adds nothing.
        #expect(try await node.submit(envelope) == id)
        let stored = try #require(try await node.waitForCommit(id, timeout: commitTimeout))
        #expect(stored.receipt.isCommitted)
        await stop(running)
        // Read after stopping: a running node may decide another (empty) block at any moment.
        let before = await node.status()

        node = try Node(home: network.homes[0], logger: quietLogger)
        let after = await node.status()
        #expect(after.height == before.height)
        #expect(after.latestBlockHash == before.latestBlockHash)
        #expect(after.stateRoot == before.stateRoot)
        guard case .committed = try await node.status(of: id) else { Issue.record("the committed transaction is gone after a restart"); return }
        // And it goes on committing.
        running = start(node)
        let next = try await node.submit(try transfer(citizen, to: "citizen-3"))
        #expect(try await node.waitForCommit(next, timeout: commitTimeout)?.receipt.isCommitted == true)
        await stop(running)
    }

    @Test("admission refuses a bad signature, a replayed nonce and a wrong chain, with the ledger's codes")
    func admissionRefusals() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        defer { running.cancel() }
        let citizen = try TestSigner("citizen-1", in: network)
        let good = try transfer(citizen, to: "citizen-2")
        _ = try #require(try await node.waitForCommit(try await node.submit(good), timeout: commitTimeout))

        // The same nonce again, signed anew (a different transaction): refused before the mempool.
        let replay = try SignedEnvelope.signing(
            TransactionPayload(chainID: network.genesis.chainID, signer: citizen.party, nonce: 1, fee: Tiyn(100),
                               expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + 60_000),
                               action: .transfer(Transfer(to: try PartyID("citizen-3"), amount: Tiyn(5)))).encoded(), with: [citizen.key])
        await #expect(throws: Rejection.self) { _ = try await node.submit(replay) }

        // Another party's key signing for citizen-1.
        let forged = try SignedEnvelope.signing(
            TransactionPayload(chainID: network.genesis.chainID, signer: citizen.party, nonce: 2, fee: Tiyn(100),
                               expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + 60_000),
                               action: .transfer(Transfer(to: try PartyID("citizen-3"), amount: Tiyn(5)))).encoded(), with: [try network.key(of: "citizen-2")])
        do {
            _ = try await node.submit(forged)
            Issue.record("a transaction signed by someone else was admitted")
        } catch let rejection as Rejection {
            #expect(rejection.code == "tx.signer_signature_missing")
        }

        let otherChain = try SignedEnvelope.signing(
            TransactionPayload(chainID: try ChainID("another-chain"), signer: citizen.party, nonce: 2, fee: Tiyn(100),
                               expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + 60_000),
                               action: .transfer(Transfer(to: try PartyID("citizen-3"), amount: Tiyn(5)))).encoded(), with: [citizen.key])
        do {
            _ = try await node.submit(otherChain)
            Issue.record("a transaction for another chain was admitted")
        } catch let rejection as Rejection {
            #expect(rejection.code == "tx.wrong_chain")
        }
        #expect(await node.status().mempoolTransactions == 0)
    }

    @Test("a state node edited behind the node's back is never served: refused when read, found by the audit, and at start if the node builds on it")
    func editedDatabaseRefused() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        let citizen = try TestSigner("citizen-1", in: network)
        _ = try #require(try await node.waitForCommit(try await node.submit(try transfer(citizen, to: "citizen-2")), timeout: commitTimeout))
        await stop(running)
        let path = network.homes[0].databaseURL.path

        // An insider rewrites a party record in the state tree (court-1 becomes court-9), in every
        // stored node that holds it: the record's node in the latest state is one of them, whichever
        // version wrote it (a record's leaf is rewritten when a neighbouring key moves it).
        let database = try DatabaseQueue(path: path)
        try await database.write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT version, depth, bits, node FROM tree_nodes WHERE instr(node, CAST('court-1' AS BLOB)) > 0")
            #expect(!rows.isEmpty)
            for row in rows {
                let node: Data = row["node"]
                var edited = [UInt8](node)
                let needle = Array("court-1".utf8)
                let at = try #require((0...(edited.count - needle.count)).first { Array(edited[$0..<($0 + needle.count)]) == needle })
                edited[at + needle.count - 1] = UInt8(ascii: "9")
                try db.execute(sql: "UPDATE tree_nodes SET node = ? WHERE version = ? AND depth = ? AND bits = ?",
                               arguments: [Data(edited), row["version"] as Int64, row["depth"] as Int64, row["bits"] as Data])
            }
        }
        // The start checks what the node builds on (the last block, the roots). Executing the last
        // block again reads court-1's leaf only if a record it writes lands beside it; then the
        // start refuses. Otherwise the node opens and refuses the record when it is read.
        do {
            let reopened = try Node(home: network.homes[0], logger: quietLogger)
            do {
                _ = try await reopened.party(try PartyID("court-1"))
                Issue.record("an edited record was served")
            } catch let error as StateTreeError {
                #expect(error.code == "state.hash_mismatch")
            }
            #expect(try await reopened.party(try PartyID("citizen-2")) != nil)
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity" && error.message.contains("altered"))
        }
        do {
            _ = try NodeAudit.run(home: network.homes[0])
            Issue.record("the audit passed an edited state")
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity")
            #expect(error.message.contains("altered"))
        }

        // The root node of the latest state, which every read starts from: refused at start.
        try await database.write { db in
            // The newest root node written is the latest state's (a version that changes nothing keeps its root).
            let version = try #require(try Int64.fetchOne(db, sql: "SELECT MAX(version) FROM tree_nodes WHERE depth = 0"))
            let node = try #require(try Data.fetchOne(db, sql: "SELECT node FROM tree_nodes WHERE version = ? AND depth = 0", arguments: [version]))
            var edited = [UInt8](node)
            edited[edited.count - 10] ^= 1
            try db.execute(sql: "UPDATE tree_nodes SET node = ? WHERE version = ? AND depth = 0", arguments: [Data(edited), version])
        }
        try database.close()
        do {
            _ = try Node(home: network.homes[0], logger: quietLogger)
            Issue.record("a node started on an edited state root")
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity")
            #expect(error.message.contains("altered"))
        }
    }

    @Test("an edited block is found by the audit; an edited last commit is refused at start")
    func editedBlockRefused() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        let citizen = try TestSigner("citizen-1", in: network)
        let stored = try #require(try await node.waitForCommit(try await node.submit(try transfer(citizen, to: "citizen-2", amount: 1_000)), timeout: commitTimeout))
        await stop(running)

        // Rewrite the committed transfer's amount inside the stored block (1000 → 9000).
        let database = try DatabaseQueue(path: network.homes[0].databaseURL.path)
        try await database.write { db in
            let bytes = try #require(try Data.fetchOne(db, sql: "SELECT block FROM blocks WHERE height = ?", arguments: [Int64(stored.height.rawValue)]))
            var text = [UInt8](bytes)
            let needle = Array(#""amount":1000"#.utf8)
            let at = try #require((0...(text.count - needle.count)).first { Array(text[$0..<($0 + needle.count)]) == needle })
            text[at + needle.count - 4] = UInt8(ascii: "9")
            try db.execute(sql: "UPDATE blocks SET block = ? WHERE height = ?", arguments: [Data(text), Int64(stored.height.rawValue)])
        }
        // The audit reads every block; the start reads only the last one, with its commit.
        do {
            _ = try NodeAudit.run(home: network.homes[0])
            Issue.record("the audit passed an edited block")
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity")
        }
        try await database.write { db in
            let last = try #require(try Row.fetchOne(db, sql: #"SELECT height, "commit" FROM blocks ORDER BY height DESC LIMIT 1"#))
            var commit = [UInt8](last["commit"] as Data)
            commit[commit.count - 1] ^= 1
            try db.execute(sql: #"UPDATE blocks SET "commit" = ? WHERE height = ?"#, arguments: [Data(commit), last["height"] as Int64])
        }
        try database.close()
        do {
            _ = try Node(home: network.homes[0], logger: quietLogger)
            Issue.record("a node started on a last block whose commit was edited")
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity")
        }
    }
}
