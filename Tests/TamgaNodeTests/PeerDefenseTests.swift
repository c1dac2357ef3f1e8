import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TamgaConsensus
import TamgaCore
import TamgaLedger
@testable import TamgaNetwork
@testable import TamgaNode
import TamgaStorage
import Testing

@Suite("Peers that lie or send garbage are disconnected; the node goes on")
struct PeerDefenseTests {
    /// Validator 0 holds 3 of 4 votes, so it commits alone; the test speaks as validator 1.
    let network: TestNetwork
    let node: Node
    let port: Int

    init() throws {
        try self.init(votingPowers: [3, 1])
    }

    /// - Parameter backoffMillis: how long validator 0 refuses validator 1 after its first offence.
    init(votingPowers: [UInt64], backoffMillis: UInt64 = 1) throws {
        network = try TestNetwork(validators: 2, votingPowers: votingPowers)
        var config = try network.homes[0].loadConfig()
        config.peerBackoffMillis = backoffMillis
        try writeJSON(config, to: network.homes[0].configURL)
        node = try Node(home: network.homes[0], logger: quietLogger)
        port = config.peerPort
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

    /// Whether the node closes the connection within `seconds`; then waits until the node
    /// takes validator 1's connections again, so that the next check is not refused for that.
    func isClosed(_ channel: any Channel, within seconds: Int = 5) async -> Bool {
        let closed = await withTaskGroup(of: Bool.self) { group in
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
        while node.network.isBackedOff(ValidatorIndex(1)) { try? await Task.sleep(for: .milliseconds(5)) }
        return closed
    }

    /// A connection as validator 1, past its hello. On a loaded machine the node may still be
    /// closing an earlier connection of validator 1 when this one arrives, and close it too; such a
    /// connection, closed before it said anything, is made again.
    func speak() async throws -> any Channel {
        var attempts = 0
        while true {
            let channel = try await connect(as: try network.homes[1].loadIdentity())
            do {
                try await send(hello, on: channel)
                return channel
            } catch let error as ChannelError where error == .ioOnClosedChannel && attempts < 5 {
                attempts += 1
                while node.network.isBackedOff(ValidatorIndex(1)) { try? await Task.sleep(for: .milliseconds(5)) }
            }
        }
    }

    /// A block for `height` with the given header height that nobody would vote for.
    func junkBlock(height: Height, salt: UInt64) throws -> Block {
        Block(header: BlockHeader(
            chainID: network.genesis.chainID, height: height, time: Timestamp(millisecondsSinceEpoch: salt), previousBlockHash: .zero,
            lastCommitHash: .zero, transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot([]), stateRoot: .zero,
            validatorSetHash: try network.genesis.validatorSet().hash, proposer: ValidatorIndex(1)), transactions: [], lastCommit: nil)
    }

    func proposal(of block: Block, height: Height, round: Round, by proposer: ValidatorIndex = ValidatorIndex(1)) throws -> SignedProposal {
        Proposal(chainID: network.genesis.chainID, height: height, round: round, proofOfLockRound: nil, blockHash: block.hash,
                 timestamp: Timestamp(millisecondsSinceEpoch: 1), proposer: proposer).signed(with: try network.homes[1].loadIdentity().key)
    }

    var hello: [UInt8] {
        PeerMessage.hello(.init(chainID: network.genesis.chainID, genesisHash: network.genesis.hash, validator: ValidatorIndex(1), height: Height(0))).encoded()
    }

    func stillCommits(_ signer: TestSigner) async throws {
        let id = try await node.submit(try transfer(signer, to: "citizen-2"))
        #expect(try await node.waitForCommit(id, timeout: commitTimeout)?.receipt.isCommitted == true)
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
        var channel = try await speak()
        try await send(PeerMessage.status(height: Height(0)).encoded(), on: channel)
        #expect(await !isClosed(channel, within: 1))

        // Bytes that are no message.
        channel = try await speak()
        try await send([0x01, 0xff, 0x00, 0x13], on: channel)
        #expect(await isClosed(channel))

        // A frame that announces more than the limit.
        channel = try await speak()
        var oversized = channel.allocator.buffer(capacity: 8)
        oversized.writeInteger(UInt32(Limits.peerMessageBytesMax + 1))
        oversized.writeInteger(UInt32(0))
        try await channel.writeAndFlush(oversized)
        #expect(await isClosed(channel))

        // A vote for a validator index that does not exist.
        channel = try await speak()
        let vote = Vote(kind: .prevote, chainID: network.genesis.chainID, height: Height(1), round: Round(0), blockHash: nil,
                        timestamp: Timestamp(millisecondsSinceEpoch: 1), validator: ValidatorIndex(7)).signed(with: validatorOne.key)
        try await send(PeerMessage.vote(vote).encoded(), on: channel)
        #expect(await isClosed(channel))

        // A claim to be far ahead, then a "decided" block whose commit is signed by no one.
        channel = try await speak()
        try await send(PeerMessage.status(height: Height(1_000_000)).encoded(), on: channel)
        // Fakes for the next few heights: the node may decide an empty block of its own meanwhile,
        // and it reads only the block of its next height.
        let next = await node.status().height.next
        let fakes = try (UInt64(0)..<4).map { offset -> PeerMessage.DecidedBlock in
            let height = Height(next.rawValue + offset)
            let fake = Block(header: BlockHeader(
                chainID: network.genesis.chainID, height: height, time: Timestamp(millisecondsSinceEpoch: 1), previousBlockHash: .zero,
                lastCommitHash: .zero, transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot([]), stateRoot: .zero,
                validatorSetHash: try network.genesis.validatorSet().hash, proposer: ValidatorIndex(1)), transactions: [], lastCommit: nil)
            return .init(block: fake, commit: Commit(height: height, round: Round(0), blockHash: fake.hash, signatures: []))
        }
        try await send(PeerMessage.blocks(fakes).encoded(), on: channel)
        #expect(await isClosed(channel))

        // A hello naming validator 1 from a key that is not in genesis: the TLS handshake fails.
        let strangerKey = SigningKey()
        let stranger = try PeerIdentity(key: strangerKey, certificatePEM: PeerIdentity.makeCertificatePEM(for: strangerKey, name: "stranger"))
        channel = try await connect(as: stranger)
        try? await send(hello, on: channel)
        #expect(await isClosed(channel))

        // A real validator key naming another validator's index in its hello.
        channel = try await connect(as: validatorOne)
        try? await send(PeerMessage.hello(.init(chainID: network.genesis.chainID, genesisHash: network.genesis.hash, validator: ValidatorIndex(0), height: Height(0))).encoded(), on: channel)
        #expect(await isClosed(channel))

        // None of it harmed the node.
        try await stillCommits(citizen)
    }
}

extension PeerDefenseTests {
    @Test("a Byzantine validator's proposals: nothing kept before the signature and turn verify, and what is kept is bounded")
    func proposalFlood() async throws {
        defer { network.remove() }
        let running = start(node)
        defer { running.cancel() }
        let citizen = try TestSigner("citizen-1", in: network)
        try await stillCommits(citizen)
        let set = try network.genesis.validatorSet()
        let next = await node.status().height.next
        let notMine = try #require((0..<8).map { Round($0) }.first { set.proposer(height: next, round: $0) != ValidatorIndex(1) })

        // Out of turn: refused before the block is kept, and the peer disconnected.
        var channel = try await speak()
        var block = try junkBlock(height: next, salt: 1)
        try await send(PeerMessage.proposal(try proposal(of: block, height: next, round: notMine), block).encoded(), on: channel)
        #expect(await isClosed(channel))
        #expect(await node.heldCandidates.isDisjoint(with: [block.hash]))

        // A block whose header names another height than its proposal (it would never be pruned).
        channel = try await speak()
        let mine = try #require((0..<8).map { Round($0) }.first { set.proposer(height: next, round: $0) == ValidatorIndex(1) })
        block = try junkBlock(height: Height(UInt64.max), salt: 2)
        try await send(PeerMessage.proposal(try proposal(of: block, height: next, round: mine), block).encoded(), on: channel)
        #expect(await isClosed(channel))

        // A forged signature.
        channel = try await speak()
        block = try junkBlock(height: next, salt: 3)
        let honest = try proposal(of: block, height: next, round: mine)
        let forged = SignedProposal(proposal: honest.proposal, signature: try Signature(bytes: [UInt8](repeating: 1, count: 64)))
        try await send(PeerMessage.proposal(forged, block).encoded(), on: channel)
        #expect(await isClosed(channel))

        // In turn and signed, for every round this validator has at the next two heights: at most
        // two blocks per round, and only a few rounds ahead, are kept.
        channel = try await speak()
        var sent = 0
        for height in [next, next.next] {
            for round in (0..<64).map({ Round($0) }) where set.proposer(height: height, round: round) == ValidatorIndex(1) {
                for salt in 0..<3 {
                    let junk = try junkBlock(height: height, salt: UInt64(1_000 + sent * 3 + salt))
                    try await send(PeerMessage.proposal(try proposal(of: junk, height: height, round: round), junk).encoded(), on: channel)
                }
                sent += 1
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        // At most two blocks for each of validator 1's rounds within the window (rounds up to
        // `blockRoundsAheadMax` past the current one, which the node has not left at either height).
        let windowRounds = [next, next.next].map { height in
            (0...Node.blockRoundsAheadMax).filter { set.proposer(height: height, round: Round($0)) == ValidatorIndex(1) }.count
        }.reduce(0, +)
        let held = await node.heldCandidates.count
        #expect(windowRounds > 0)
        #expect(held <= Node.blocksPerRoundMax * windowRounds, "held \(held) blocks of \(sent * 3) sent, for \(windowRounds) rounds in the window")
        try await stillCommits(citizen)
    }

    @Test("votes that do not verify and blocks nobody asked for; a liar's claimed height neither stalls the node nor makes it report catching up")
    func liesAboutVotesBlocksAndHeights() async throws {
        defer { network.remove() }
        let running = start(node)
        defer { running.cancel() }
        let citizen = try TestSigner("citizen-1", in: network)
        try await stillCommits(citizen)
        let next = await node.status().height.next

        // A vote of the next height signed by someone else's key: it would have sat in the
        // future-message buffer, unverified.
        var channel = try await speak()
        let stranger = SigningKey()
        let vote = Vote(kind: .prevote, chainID: network.genesis.chainID, height: next.next, round: Round(0), blockHash: nil,
                        timestamp: Timestamp(millisecondsSinceEpoch: 1), validator: ValidatorIndex(1)).signed(with: stranger)
        try await send(PeerMessage.vote(vote).encoded(), on: channel)
        #expect(await isClosed(channel))

        // Blocks nobody asked for are not even read.
        channel = try await speak()
        let fake = try junkBlock(height: next, salt: 9)
        try await send(PeerMessage.blocks([.init(block: fake, commit: Commit(height: next, round: Round(0), blockHash: fake.hash, signatures: []))]).encoded(), on: channel)
        #expect(await !isClosed(channel, within: 1))

        // A claim of a million blocks, never backed: validator 1 holds a quarter of the power,
        // so the node does not believe it is behind, keeps serving, and keeps deciding.
        channel = try await speak()
        try await send(PeerMessage.status(height: Height(1_000_000)).encoded(), on: channel)
        try await Task.sleep(for: .milliseconds(200))
        let status = await node.status()
        #expect(!status.catchingUp)
        #expect(status.networkHeight == status.height)
        try await stillCommits(citizen)
        try await stillCommits(citizen)
    }

    @Test("a peer that never reads costs a bounded number of bytes")
    func peerThatNeverReads() async throws {
        defer { network.remove() }
        // Validator 1's address answers TCP and never reads, so validator 0's TLS handshake stalls.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: try network.homes[1].loadConfig().peerPort).get()
        defer { silent.close(promise: nil) }
        let running = start(node)
        defer { running.cancel() }
        // Frames of 30 MiB each (one large envelope, a thousand times), five times the bound in all.
        let citizen = try TestSigner("citizen-1", in: network)
        let large = try SignedEnvelope.signing([UInt8](repeating: UInt8(ascii: " "), count: 30 * 1024), with: [citizen.key])
        let batch = PeerMessage.transactions([SignedEnvelope](repeating: large, count: PeerMessage.transactionsPerMessageMax))
        for _ in 0..<(5 * PeerNetwork.queuedBytesMax / batch.encoded().count) { node.network.send(batch, to: ValidatorIndex(1)) }
        #expect(node.network.queuedBytes(to: ValidatorIndex(1)) <= PeerNetwork.queuedBytesMax)
        #expect(node.network.queuedBytes(to: ValidatorIndex(1)) > 0)
        try await stillCommits(citizen)
    }

    @Test("a peer that misbehaved is refused for a while, then taken back")
    func backoff() async throws {
        network.remove()
        // Long enough that a connection made at once is still refused on a loaded machine, where
        // a TLS handshake can take a second or more.
        let suite = try PeerDefenseTests(votingPowers: [3, 1], backoffMillis: 6_000)
        defer { suite.network.remove() }
        let running = start(suite.node)
        defer { running.cancel() }
        let identity = try suite.network.homes[1].loadIdentity()
        let channel = try await suite.connect(as: identity)
        try await suite.send(suite.hello, on: channel)
        // Taken before the offence, so the back-off measured from here is never shorter than the
        // node's own, however late this task runs after the connection closes.
        let offence = ContinuousClock.now
        try await suite.send([0x01, 0xff], on: channel)
        _ = try? await channel.closeFuture.get()
        #expect(suite.node.network.isBackedOff(ValidatorIndex(1)))
        // An honest hello at once: refused (`isClosed` then waits out the back-off).
        let refused = try await suite.connect(as: identity)
        try? await suite.send(suite.hello, on: refused)
        try? await suite.send(PeerMessage.status(height: Height(0)).encoded(), on: refused)
        #expect(await suite.isClosed(refused))
        #expect(offence.duration(to: .now) > .milliseconds(5_000), "the back-off ended early")
        let welcome = try await suite.connect(as: identity)
        try await suite.send(suite.hello, on: welcome)
        try await suite.send(PeerMessage.status(height: Height(0)).encoded(), on: welcome)
        #expect(await !suite.isClosed(welcome, within: 1))
    }

    @Test("when validators with more than a third of the power are ahead, the node says it is catching up and serves nothing stale")
    func catchingUp() async throws {
        // Validator 1 holds three quarters of the power and claims to be far ahead.
        network.remove()
        let suite = try PeerDefenseTests(votingPowers: [1, 3])
        defer { suite.network.remove() }
        let running = start(suite.node)
        defer { running.cancel() }
        let channel = try await suite.speak()
        try await suite.send(PeerMessage.status(height: Height(50)).encoded(), on: channel)
        var status = await suite.node.status()
        for _ in 0..<100 where !status.catchingUp {
            try await Task.sleep(for: .milliseconds(20))
            status = await suite.node.status()
        }
        #expect(status.catchingUp)
        #expect(status.networkHeight == Height(50))
        await #expect(throws: NodeBusy.catchingUp(height: status.height, networkHeight: Height(50))) {
            _ = try await suite.node.encumbrances(try CadastralNumber("01-001-001-1"))
        }
        let citizen = try TestSigner("citizen-1", in: suite.network)
        await #expect(throws: NodeBusy.self) { _ = try await suite.node.submit(try transfer(citizen, to: "citizen-2")) }
        channel.close(promise: nil)
    }
}
