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
        let stored = try #require(try await node.waitForCommit(id, timeout: .seconds(20)))
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
        #expect(try await node.waitForCommit(next, timeout: .seconds(20))?.receipt.isCommitted == true)
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
        _ = try #require(try await node.waitForCommit(try await node.submit(good), timeout: .seconds(20)))

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

    @Test("a database edited behind the node's back is refused at start, with what is wrong")
    func editedDatabaseRefused() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        let citizen = try TestSigner("citizen-1", in: network)
        _ = try #require(try await node.waitForCommit(try await node.submit(try transfer(citizen, to: "citizen-2")), timeout: .seconds(20)))
        await stop(running)
        let path = network.homes[0].databaseURL.path

        // An insider rewrites a party record in the state tree (court-1 becomes court-9), in every
        // stored node that holds it: the record's node in the signed state is one of them, whichever
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
        try database.close()
        do {
            _ = try Node(home: network.homes[0], logger: quietLogger)
            Issue.record("a node started on an edited state tree")
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity")
            #expect(error.message.contains("altered") || error.message.contains("hashes to"))
        }
    }

    @Test("a block edited in the database is refused at start")
    func editedBlockRefused() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        let citizen = try TestSigner("citizen-1", in: network)
        let stored = try #require(try await node.waitForCommit(try await node.submit(try transfer(citizen, to: "citizen-2", amount: 1_000)), timeout: .seconds(20)))
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
        try database.close()
        do {
            _ = try Node(home: network.homes[0], logger: quietLogger)
            Issue.record("a node started on an edited block")
        } catch let error as StorageError {
            #expect(error.code == "storage.integrity")
        }
    }
}

@Suite("Peers that lie or send garbage are disconnected; the node goes on")
struct PeerDefenseTests {
    /// Validator 0 holds 3 of 4 votes, so it commits alone; the test speaks as validator 1.
    let network: TestNetwork
    let node: Node
    let port: Int

    init() throws {
        network = try TestNetwork(validators: 2, votingPowers: [3, 1])
        node = try Node(home: network.homes[0], logger: quietLogger)
        port = try network.homes[0].loadConfig().peerPort
    }

    func connect(as identity: PeerIdentity) async throws -> any Channel {
        let context = try NIOSSLContext(configuration: identity.tlsConfiguration(server: false))
        var attempts = 0
        while true {
            do {
                return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let tls = try NIOSSLClientHandler(context: context, serverHostname: nil) { _, promise in promise.succeed(.certificateVerified) }
                            try channel.pipeline.syncOperations.addHandler(tls)
                        }
                    }
                    .connect(host: "127.0.0.1", port: port).get()
            } catch {
                attempts += 1
                guard attempts < 50 else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func send(_ bytes: [UInt8], on channel: any Channel) async throws {
        var buffer = channel.allocator.buffer(capacity: bytes.count + 4)
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer)
    }

    /// Whether the node closes the connection within `seconds`.
    func isClosed(_ channel: any Channel, within seconds: Int = 5) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await channel.closeFuture.get()) != nil || true }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            if !first { channel.close(promise: nil) }
            return first
        }
    }

    var hello: [UInt8] {
        PeerMessage.hello(.init(chainID: network.genesis.chainID, genesisHash: network.genesis.hash, validator: ValidatorIndex(1), height: Height(0))).encoded()
    }

    func stillCommits(_ signer: TestSigner) async throws {
        let id = try await node.submit(try transfer(signer, to: "citizen-2"))
        #expect(try await node.waitForCommit(id, timeout: .seconds(20))?.receipt.isCommitted == true)
    }

    @Test("garbage, oversized frames, out-of-range votes, unverifiable blocks and strangers")
    func misbehavingPeers() async throws {
        defer { network.remove() }
        let running = start(node)
        defer { running.cancel() }
        let citizen = try TestSigner("citizen-1", in: network)
        try await stillCommits(citizen)
        let validatorOne = try network.homes[1].loadIdentity()

        // The control: an honest peer's connection stays open.
        var channel = try await connect(as: validatorOne)
        try await send(hello, on: channel)
        try await send(PeerMessage.status(height: Height(0)).encoded(), on: channel)
        #expect(await !isClosed(channel, within: 1))

        // Bytes that are no message.
        channel = try await connect(as: validatorOne)
        try await send(hello, on: channel)
        try await send([0x01, 0xff, 0x00, 0x13], on: channel)
        #expect(await isClosed(channel))

        // A frame that announces more than the limit.
        channel = try await connect(as: validatorOne)
        try await send(hello, on: channel)
        var oversized = channel.allocator.buffer(capacity: 8)
        oversized.writeInteger(UInt32(Limits.peerMessageBytesMax + 1))
        oversized.writeInteger(UInt32(0))
        try await channel.writeAndFlush(oversized)
        #expect(await isClosed(channel))

        // A vote for a validator index that does not exist.
        channel = try await connect(as: validatorOne)
        try await send(hello, on: channel)
        let vote = Vote(kind: .prevote, chainID: network.genesis.chainID, height: Height(1), round: Round(0), blockHash: nil,
                        timestamp: Timestamp(millisecondsSinceEpoch: 1), validator: ValidatorIndex(7)).signed(with: validatorOne.key)
        try await send(PeerMessage.vote(vote).encoded(), on: channel)
        #expect(await isClosed(channel))

        // A claim to be far ahead, then a "decided" block whose commit is signed by no one.
        channel = try await connect(as: validatorOne)
        try await send(hello, on: channel)
        try await send(PeerMessage.status(height: Height(1_000_000)).encoded(), on: channel)
        let height = await node.status().height.next
        let fake = Block(header: BlockHeader(
            chainID: network.genesis.chainID, height: height, time: Timestamp(millisecondsSinceEpoch: 1), previousBlockHash: .zero,
            lastCommitHash: .zero, transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot([]), stateRoot: .zero,
            validatorSetHash: try network.genesis.validatorSet().hash, proposer: ValidatorIndex(1)), transactions: [], lastCommit: nil)
        let commit = Commit(height: height, round: Round(0), blockHash: fake.hash, signatures: [])
        try await send(PeerMessage.blocks([.init(block: fake, commit: commit)]).encoded(), on: channel)
        #expect(await isClosed(channel))

        // A hello naming validator 1 from a key that is not in genesis: the TLS handshake fails.
        let strangerKey = SigningKey()
        let stranger = try PeerIdentity(key: strangerKey, certificatePEM: PeerIdentity.makeCertificatePEM(for: strangerKey, name: "stranger"))
        channel = try await connect(as: stranger)
        try? await send(hello, on: channel)
        #expect(await isClosed(channel))

        // A real validator key naming another validator's index in its hello.
        channel = try await connect(as: validatorOne)
        try await send(PeerMessage.hello(.init(chainID: network.genesis.chainID, genesisHash: network.genesis.hash, validator: ValidatorIndex(0), height: Height(0))).encoded(), on: channel)
        #expect(await isClosed(channel))

        // None of it harmed the node.
        try await stillCommits(citizen)
    }
}
