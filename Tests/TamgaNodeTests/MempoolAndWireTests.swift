import Foundation
import TamgaConsensus
import TamgaCore
import TamgaLedger
@testable import TamgaNetwork
@testable import TamgaNode
import Testing

@Suite("Mempool bounds and order")
struct MempoolTests {
    let key = SigningKey()

    func transaction(_ signer: String, nonce: UInt64, padding: Int = 0) throws -> PreparedTransaction {
        let payload = TransactionPayload(chainID: try ChainID("tamga-test"), signer: try PartyID(signer), nonce: nonce, fee: Tiyn(100),
                                         expiresAt: Timestamp(millisecondsSinceEpoch: 1_000_000),
                                         action: .transfer(Transfer(to: try PartyID("xyz\(String(repeating: "y", count: padding))"), amount: Tiyn(1))))
        return PreparedTransaction(try SignedEnvelope.signing(payload.encoded(), with: [key]))
    }

    @Test("refuses when full by count, by bytes and per sender (at equal fees), and refuses duplicates")
    func bounds() throws {
        var pool = Mempool(transactionsMax: 3, bytesMax: 100_000)
        for nonce: UInt64 in 1...3 { try pool.add(try transaction("party-a", nonce: nonce), signer: try PartyID("party-a"), nonce: nonce) }
        #expect(throws: MempoolError.self) { try pool.add(try transaction("party-b", nonce: 1), signer: try PartyID("party-b"), nonce: 1) }
        #expect(pool.count == 3)

        var small = Mempool(transactionsMax: 100, bytesMax: 400)
        try small.add(try transaction("party-a", nonce: 1), signer: try PartyID("party-a"), nonce: 1)
        #expect(throws: MempoolError.full(transactions: 1, bytes: small.bytes)) {
            try small.add(try transaction("party-b", nonce: 1, padding: 40), signer: try PartyID("party-b"), nonce: 1)
        }

        var perSender = Mempool()
        for nonce in 1...UInt64(Limits.mempoolTransactionsPerSenderMax) {
            try perSender.add(try transaction("party-a", nonce: nonce), signer: try PartyID("party-a"), nonce: nonce)
        }
        let next = UInt64(Limits.mempoolTransactionsPerSenderMax + 1)
        #expect(throws: MempoolError.senderFull(try PartyID("party-a"))) { try perSender.add(try transaction("party-a", nonce: next), signer: try PartyID("party-a"), nonce: next) }

        let one = try transaction("party-c", nonce: 1)
        try perSender.add(one, signer: try PartyID("party-c"), nonce: 1)
        #expect(throws: MempoolError.duplicate(one.id)) { try perSender.add(one, signer: try PartyID("party-c"), nonce: 1) }
    }

    @Test("a block takes each sender's transactions from its next nonce, stopping at a gap")
    func reapOrder() throws {
        var pool = Mempool()
        for nonce: UInt64 in [3, 1, 2, 5] { try pool.add(try transaction("party-a", nonce: nonce), signer: try PartyID("party-a"), nonce: nonce) }
        for nonce: UInt64 in [2, 3] { try pool.add(try transaction("party-b", nonce: nonce), signer: try PartyID("party-b"), nonce: nonce) }
        let reaped = pool.reap(transactionsMax: 100, bytesMax: 1_000_000) { _ in 1 }
        let nonces = reaped.compactMap { try? $0.payload.get() }.map { "\($0.signer):\($0.nonce)" }
        // a: 1, 2, 3 (5 waits for 4); b: nothing (its nonce 1 has not arrived).
        #expect(nonces == ["party-a:1", "party-a:2", "party-a:3"])
        #expect(pool.reap(transactionsMax: 2, bytesMax: 1_000_000) { _ in 1 }.count == 2)
    }

    @Test("good signature verdicts are remembered per signature, key and message, bad ones not, and the oldest are forgotten at capacity")
    func signatureMemory() throws {
        let memory = SignatureMemory(capacity: 2)
        let other = SigningKey()
        let message = Array("payload".utf8), altered = Array("payload!".utf8)
        let signature = key.sign(message)
        #expect(memory.isValid(signature, by: key.publicKey, for: message))
        // The same signature with another message or by another key is not taken from memory.
        #expect(!memory.isValid(signature, by: key.publicKey, for: altered))
        #expect(!memory.isValid(signature, by: other.publicKey, for: message))
        #expect(memory.isValid(signature, by: key.publicKey, for: message))
        // Bad verdicts are not kept: forged signatures cannot push out good ones.
        #expect(memory.rememberedCount == 1)
        // Past capacity the oldest verdicts go; each answer stays right.
        for index in 0..<5 {
            let text = Array("message \(index)".utf8)
            #expect(memory.isValid(other.sign(text), by: other.publicKey, for: text))
        }
        #expect(memory.rememberedCount == 2)
        #expect(memory.isValid(signature, by: key.publicKey, for: message))
    }
}

@Suite("Peer message codec")
struct PeerMessageTests {
    @Test("every kind round-trips; unknown versions and kinds, and oversized counts, are refused")
    func roundTrip() throws {
        let chain = try ChainID("tamga-test")
        let key = SigningKey()
        let vote = Vote(kind: .precommit, chainID: chain, height: Height(3), round: Round(1), blockHash: .sha256([1]),
                        timestamp: Timestamp(millisecondsSinceEpoch: 9), validator: ValidatorIndex(2)).signed(with: key)
        let header = BlockHeader(chainID: chain, height: Height(1), time: Timestamp(millisecondsSinceEpoch: 5), previousBlockHash: .zero,
                                 lastCommitHash: .zero, transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot([]),
                                 stateRoot: .sha256([2]), validatorSetHash: .sha256([3]), proposer: ValidatorIndex(0))
        let envelope = try SignedEnvelope.signing(Array(#"{"x":1}"#.utf8), with: [key])
        let block = Block(header: header, transactions: [envelope], lastCommit: nil)
        let commit = Commit(height: Height(1), round: Round(0), blockHash: block.hash, signatures: [])
        let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
        _ = try map.apply([StateUpdate(key: Array("a".utf8), value: [1]), StateUpdate(key: Array("b".utf8), value: [2])], as: 1)
        let proof = try map.proof(forKey: Array("a".utf8), at: 1).proof
        let messages: [PeerMessage] = [
            .hello(.init(chainID: chain, genesisHash: .sha256([4]), validator: ValidatorIndex(1), height: Height(7))),
            .vote(vote), .transactions([envelope]), .status(height: Height(42)), .blocksRequest(from: Height(5), count: 64),
            .blocks([.init(block: block, commit: commit)]),
            .snapshotTopRequest(version: 9), .snapshotRequest(version: 9, prefix: 4_000, count: 96),
            .handoversRequest(from: 0), .handoversRequest(from: 7), .handovers(from: 7, []),
            .handovers(from: 2, [.init(header: header, commit: commit, record: Array("[]".utf8), proof: proof), .init(header: header, commit: commit, record: [], proof: proof)]),
        ]
        for message in messages { #expect(try PeerMessage.decode(message.encoded()) == message) }

        var wrongVersion = PeerMessage.status(height: Height(1)).encoded()
        wrongVersion[0] = 2
        #expect(throws: CodecError.self) { try PeerMessage.decode(wrongVersion) }
        #expect(throws: CodecError.self) { try PeerMessage.decode([1, 99]) }
        #expect(throws: CodecError.self) { try PeerMessage.decode([1, 6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 65]) }
        #expect(throws: CodecError.self) { try PeerMessage.decode(Array(PeerMessage.status(height: Height(1)).encoded().dropLast())) }
        #expect(try Block.decode(block.encoded()) == block)
    }
}

@Suite("Mempool under pressure, parking and fees")
struct MempoolPressureTests {
    let key = SigningKey()

    func transaction(_ signer: String, nonce: UInt64, fee: UInt64) throws -> PreparedTransaction {
        let payload = TransactionPayload(chainID: try ChainID("tamga-test"), signer: try PartyID(signer), nonce: nonce, fee: Tiyn(fee),
                                         expiresAt: Timestamp(millisecondsSinceEpoch: 1_000_000), action: .transfer(Transfer(to: try PartyID("xyz"), amount: Tiyn(1))))
        return PreparedTransaction(try SignedEnvelope.signing(payload.encoded(), with: [key]))
    }

    @Test("when full, only a higher fee gets in, displacing the lowest; a taken nonce is named")
    func displacement() throws {
        var pool = Mempool(transactionsMax: 2, bytesMax: 100_000)
        let cheap = try transaction("party-a", nonce: 1, fee: 100)
        try pool.add(cheap, signer: try PartyID("party-a"), nonce: 1)
        try pool.add(try transaction("party-b", nonce: 1, fee: 300), signer: try PartyID("party-b"), nonce: 1)
        #expect(throws: MempoolError.full(transactions: 2, bytes: pool.bytes)) {
            try pool.add(try transaction("party-c", nonce: 1, fee: 100), signer: try PartyID("party-c"), nonce: 1)
        }
        let displaced = try pool.add(try transaction("party-c", nonce: 1, fee: 101), signer: try PartyID("party-c"), nonce: 1)
        #expect(displaced == [cheap.id])
        #expect(pool.count == 2 && !pool.contains(cheap.id))
        let taken = try #require(pool.waiting(from: try PartyID("party-c"), nonce: 1))
        #expect(throws: MempoolError.nonceTaken(try PartyID("party-c"), nonce: 1, waiting: taken)) {
            try pool.add(try transaction("party-c", nonce: 1, fee: 999), signer: try PartyID("party-c"), nonce: 1)
        }
    }

    @Test("fees beyond the balance are found from the highest nonce down; transactions behind a gap are parked and found when old")
    func feesAndParking() throws {
        var pool = Mempool()
        let signer = try PartyID("party-a")
        let start = ContinuousClock.now
        let one = try transaction("party-a", nonce: 1, fee: 100), two = try transaction("party-a", nonce: 2, fee: 100)
        let four = try transaction("party-a", nonce: 4, fee: 100)
        try pool.add(one, signer: signer, nonce: 1, now: start)
        try pool.add(two, signer: signer, nonce: 2, now: start)
        try pool.add(four, signer: signer, nonce: 4, now: start)
        #expect(pool.waitingFees(of: signer) == 300)
        #expect(pool.unaffordable(of: signer, balance: Tiyn(250)) == [four.id])
        #expect(pool.unaffordable(of: signer, balance: Tiyn(150)) == [four.id, two.id])
        #expect(pool.unaffordable(of: signer, balance: Tiyn(300)).isEmpty)
        // Nonce 3 is missing: 4 is parked; only once it is older than the cutoff is it reported.
        #expect(pool.parked(admittedBefore: start, nextNonce: { _ in 1 }).isEmpty)
        #expect(pool.parked(admittedBefore: start + .seconds(1), nextNonce: { _ in 1 }) == [four.id])
        // With nonce 1 committed the chain starts at 2: still only 4 waits behind the gap.
        #expect(pool.parked(admittedBefore: start + .seconds(1), nextNonce: { _ in 2 }) == [four.id])
    }
}
