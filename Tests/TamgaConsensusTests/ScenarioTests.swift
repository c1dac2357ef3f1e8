import TamgaConsensus
import TamgaCore
import Testing

/// One replica (validator 0 of 4, equal power) scripted message by message through the cases of
/// the paper. At height 1 the proposers of rounds 0, 1, 2, 3 are validators 1, 2, 3, 0.
struct Script {
    static let chain = try! ChainID("tamga-test")
    static let keys = (0..<4).map { try! SigningKey(seed: [UInt8](repeating: UInt8($0 + 1), count: 32)) }
    static let validators = try! ValidatorSet(keys.map { Validator(publicKey: $0.publicKey, votingPower: 1) })
    static let blockA = Hash.sha256(Array("block A".utf8))
    static let blockB = Hash.sha256(Array("block B".utf8))

    var state: ConsensusState
    var effects: [ConsensusEffect] = []
    var clock: UInt64 = 1_000
    /// Every record the replica asked to persist: its write-ahead log.
    var persisted: [SigningRecord] = []

    init(resumingFrom records: [SigningRecord] = []) {
        state = ConsensusState(chainID: Self.chain, height: Height(1), validators: Self.validators,
                               previousBlockTime: Timestamp(millisecondsSinceEpoch: 0), signingKey: Self.keys[0],
                               resumingFrom: records)
    }

    mutating func send(_ event: ConsensusEvent) {
        clock += 10
        effects = state.handle(event, now: Timestamp(millisecondsSinceEpoch: clock))
        for case let .persistThenBroadcast(record) in effects { persisted.append(record) }
    }

    static func proposal(round: UInt32, block: Hash, lockRound: UInt32? = nil, by proposer: Int? = nil) -> ConsensusEvent {
        let index = proposer ?? Int(validators.proposer(height: Height(1), round: Round(round)).rawValue)
        let proposal = Proposal(chainID: chain, height: Height(1), round: Round(round), proofOfLockRound: lockRound.map { Round($0) },
                                blockHash: block, timestamp: Timestamp(millisecondsSinceEpoch: 5), proposer: ValidatorIndex(UInt16(index)))
        return .proposal(proposal.signed(with: keys[index]))
    }

    static func vote(_ kind: VoteKind, round: UInt32, block: Hash?, from index: Int, height: UInt64 = 1) -> ConsensusEvent {
        let vote = Vote(kind: kind, chainID: chain, height: Height(height), round: Round(round), blockHash: block,
                        timestamp: Timestamp(millisecondsSinceEpoch: 100 + UInt64(index)), validator: ValidatorIndex(UInt16(index)))
        return .vote(vote.signed(with: keys[index]))
    }

    /// The votes this replica signed in the last step.
    var signedVotes: [Vote] {
        effects.compactMap {
            if case let .persistThenBroadcast(record) = $0, case let .vote(signed) = record.message { return signed.vote }
            return nil
        }
    }

    var signedProposals: [Proposal] {
        effects.compactMap {
            if case let .persistThenBroadcast(record) = $0, case let .proposal(signed) = record.message { return signed.proposal }
            return nil
        }
    }

    var decision: (round: Round, block: Hash, commit: Commit)? {
        for effect in effects { if case let .decide(_, round, block, commit, _) = effect { return (round, block, commit) } }
        return nil
    }

    var validationRequests: [Hash] {
        effects.compactMap { if case let .validateBlock(_, _, hash) = $0 { return hash }; return nil }
    }

    /// Answers every validation request in the last effects with `valid`.
    mutating func answerValidation(_ valid: Bool) {
        let requests = validationRequests
        guard !requests.isEmpty else { return }
        var all: [ConsensusEffect] = []
        for hash in requests {
            send(.blockValidity(blockHash: hash, isValid: valid))
            all += effects
        }
        effects = all
    }
}

@Suite struct ScenarioTests {
    @Test func commitsInRoundZero() {
        var script = Script()
        script.send(.start)
        #expect(script.effects.contains(.scheduleTimeout(Timeout(height: Height(1), round: Round(0), step: .propose), afterMillis: 1_000)))
        script.send(Script.proposal(round: 0, block: Script.blockA))
        #expect(script.validationRequests == [Script.blockA])
        script.answerValidation(true)
        #expect(script.signedVotes.map(\.kind) == [.prevote])
        #expect(script.signedVotes.first?.blockHash == Script.blockA)
        script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: 1))
        #expect(script.signedVotes.isEmpty)
        script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: 2))
        // A polka: lock and precommit.
        #expect(script.signedVotes.map(\.kind) == [.precommit])
        #expect(script.state.lockedValue == Script.blockA && script.state.lockedRound == Round(0))
        script.send(Script.vote(.precommit, round: 0, block: Script.blockA, from: 1))
        #expect(script.decision == nil)
        script.send(Script.vote(.precommit, round: 0, block: Script.blockA, from: 3))
        let decision = script.decision
        #expect(decision?.block == Script.blockA)
        #expect(decision?.commit.signatures.map(\.validator.rawValue) == [0, 1, 3])
        #expect(throws: Never.self) {
            try decision?.commit.verify(blockHash: Script.blockA, height: Height(1), chainID: Script.chain, validators: Script.validators)
        }
    }

    @Test func proposerDownCommitsInALaterRound() {
        var script = Script()
        script.send(.start)
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .propose)))
        #expect(script.signedVotes.map(\.blockHash) == [nil])
        for index in 1...2 { script.send(Script.vote(.prevote, round: 0, block: nil, from: index)) }
        // A polka for nil: precommit nil.
        #expect(script.signedVotes.map(\.kind) == [.precommit])
        #expect(script.signedVotes.first?.blockHash == nil)
        for index in 1...2 { script.send(Script.vote(.precommit, round: 0, block: nil, from: index)) }
        #expect(script.effects.contains(.scheduleTimeout(Timeout(height: Height(1), round: Round(0), step: .precommit), afterMillis: 500)))
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .precommit)))
        #expect(script.state.round == Round(1))
        // Round 1's proposer is up.
        script.send(Script.proposal(round: 1, block: Script.blockB))
        script.answerValidation(true)
        for index in 1...2 { script.send(Script.vote(.prevote, round: 1, block: Script.blockB, from: index)) }
        for index in 1...2 { script.send(Script.vote(.precommit, round: 1, block: Script.blockB, from: index)) }
        #expect(script.decision?.round == Round(1))
        #expect(script.decision?.block == Script.blockB)
    }

    @Test func keepsItsLockAgainstAnotherProposal() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(true)
        for index in 1...2 { script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: index)) }
        #expect(script.state.lockedValue == Script.blockA)
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .precommit)))
        // Round 1 proposes a different fresh block: the locked replica prevotes nil.
        script.send(Script.proposal(round: 1, block: Script.blockB))
        script.answerValidation(true)
        #expect(script.signedVotes.count == 1)
        #expect(script.signedVotes.first?.blockHash == nil)
        #expect(script.state.lockedValue == Script.blockA)
    }

    @Test func unlocksOnALaterPolka() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(true)
        for index in 1...2 { script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: index)) }
        #expect(script.state.lockedRound == Round(0))
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .precommit)))
        // Round 1: the others saw a polka for B (this replica prevotes nil, as it is locked on A).
        script.send(Script.proposal(round: 1, block: Script.blockB))
        script.answerValidation(true)
        for index in 1...3 { script.send(Script.vote(.prevote, round: 1, block: Script.blockB, from: index)) }
        for index in 1...3 { script.send(Script.vote(.precommit, round: 1, block: nil, from: index)) }
        script.send(.timeout(Timeout(height: Height(1), round: Round(1), step: .precommit)))
        // Round 2 re-proposes B with its polka round 1 ≥ the lock round 0: prevote B.
        script.send(Script.proposal(round: 2, block: Script.blockB, lockRound: 1))
        script.answerValidation(true)
        #expect(script.signedVotes.map(\.blockHash) == [Script.blockB])
    }

    @Test func refusesAReProposalWithoutItsPolka() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(true)
        for index in 1...2 { script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: index)) }
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .precommit)))
        script.send(.timeout(Timeout(height: Height(1), round: Round(1), step: .propose)))
        for index in 1...2 { script.send(Script.vote(.precommit, round: 1, block: nil, from: index)) }
        script.send(.timeout(Timeout(height: Height(1), round: Round(1), step: .precommit)))
        // Claims a polka in round 1 that never happened: no prevote for it until its propose timeout.
        script.send(Script.proposal(round: 2, block: Script.blockB, lockRound: 1))
        #expect(script.signedVotes.isEmpty)
        script.send(.timeout(Timeout(height: Height(1), round: Round(2), step: .propose)))
        #expect(script.signedVotes.map(\.blockHash) == [nil])
    }

    @Test func skipsToARoundThatMoreThanAThirdHaveReached() {
        var script = Script()
        script.send(.start)
        script.send(Script.vote(.prevote, round: 5, block: nil, from: 2))
        #expect(script.state.round == Round(0))
        script.send(Script.vote(.precommit, round: 5, block: nil, from: 3))
        #expect(script.state.round == Round(5))
        #expect(script.state.step == .propose)
    }

    @Test func prevotesNilForAnInvalidProposal() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(false)
        #expect(script.signedVotes.map(\.blockHash) == [nil])
        // Even a polka for an invalid block does not make this replica precommit it.
        for index in 1...3 { script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: index)) }
        #expect(!script.signedVotes.contains { $0.kind == .precommit && $0.blockHash != nil })
    }

    @Test func ignoresProposalsFromTheWrongProposerAndBadSignatures() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA, by: 2))
        #expect(script.validationRequests.isEmpty)
        let genuine = Proposal(chainID: Script.chain, height: Height(1), round: Round(0), proofOfLockRound: nil, blockHash: Script.blockA,
                               timestamp: Timestamp(millisecondsSinceEpoch: 5), proposer: ValidatorIndex(1))
        let forged = SignedProposal(proposal: genuine, signature: genuine.signed(with: Script.keys[2]).signature)
        script.send(.proposal(forged))
        #expect(script.validationRequests.isEmpty)
        // A vote from an index outside the set is dropped.
        let outside = Vote(kind: .prevote, chainID: Script.chain, height: Height(1), round: Round(0), blockHash: nil,
                           timestamp: Timestamp(millisecondsSinceEpoch: 1), validator: ValidatorIndex(9))
        script.send(.vote(outside.signed(with: Script.keys[1])))
        #expect(script.state.round == Round(0) && script.effects.isEmpty)
    }

    @Test func decidesOnLatePrecommitsOfAnEarlierRound() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(true)
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .prevote)))
        script.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .precommit)))
        script.send(.timeout(Timeout(height: Height(1), round: Round(1), step: .propose)))
        #expect(script.state.round == Round(1))
        // Precommits for A in round 0 arrive late: A is decided though the replica is in round 1.
        for index in 1...3 { script.send(Script.vote(.precommit, round: 0, block: Script.blockA, from: index)) }
        #expect(script.decision?.round == Round(0))
        #expect(script.decision?.block == Script.blockA)
    }

    @Test func proposesWhenItIsTheProposer() {
        var script = Script()
        script.send(.start)
        for round in 0..<3 {
            script.send(.timeout(Timeout(height: Height(1), round: Round(UInt32(round)), step: .propose)))
            for index in 1...3 { script.send(Script.vote(.precommit, round: UInt32(round), block: nil, from: index)) }
            script.send(.timeout(Timeout(height: Height(1), round: Round(UInt32(round)), step: .precommit)))
        }
        #expect(script.state.round == Round(3))
        #expect(script.effects.contains(.buildBlock(height: Height(1), round: Round(3))))
        script.send(.blockBuilt(height: Height(1), round: Round(3), blockHash: Script.blockB))
        #expect(script.signedProposals.map(\.blockHash) == [Script.blockB])
        // Its own proposal is valid to it: it prevotes it at once.
        #expect(script.signedVotes.map(\.blockHash) == [Script.blockB])
    }

    @Test func neverSignsTwiceAfterARestart() {
        var script = Script()
        script.send(.start)
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(true)
        for index in 1...2 { script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: index)) }
        guard let record = script.state.lastSigned else { Issue.record("nothing persisted"); return }
        #expect(record.step == .precommit && record.lockedValue == Script.blockA)

        #expect(script.persisted.map(\.step) == [.prevote, .precommit])

        // Restart from the log: the prevote and precommit are sent again, the lock is kept, and
        // a proposal for another block in the same round gets no new signature.
        var restarted = Script(resumingFrom: script.persisted)
        restarted.send(.start)
        #expect(restarted.effects.contains(.broadcast(record.message)))
        #expect(restarted.effects.contains(.broadcast(script.persisted[0].message)))
        #expect(restarted.state.step == .precommit)
        #expect(restarted.state.lockedValue == Script.blockA)
        restarted.send(Script.proposal(round: 0, block: Script.blockB))
        restarted.answerValidation(true)
        restarted.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .prevote)))
        #expect(restarted.signedVotes.isEmpty)
        // In the next round it signs again, and stays locked on A.
        restarted.send(.timeout(Timeout(height: Height(1), round: Round(0), step: .precommit)))
        restarted.send(Script.proposal(round: 1, block: Script.blockB))
        restarted.answerValidation(true)
        #expect(restarted.signedVotes.map(\.blockHash) == [nil])
    }

    @Test func reportsEquivocationAsEvidence() {
        var script = Script()
        script.send(.start)
        script.send(Script.vote(.prevote, round: 0, block: Script.blockA, from: 2))
        script.send(Script.vote(.prevote, round: 0, block: Script.blockB, from: 2))
        let evidence = script.effects.compactMap { if case let .evidence(found) = $0 { return found }; return nil }
        #expect(evidence.count == 1)
        #expect(evidence.first?.validator == ValidatorIndex(2))
    }

    @Test func startsTheNextHeightAfterADecision() {
        var script = Script()
        script.send(.start)
        // A vote for height 2 arrives early and is held.
        script.send(Script.vote(.prevote, round: 0, block: Script.blockB, from: 3, height: 2))
        script.send(Script.proposal(round: 0, block: Script.blockA))
        script.answerValidation(true)
        for index in 1...3 { script.send(Script.vote(.precommit, round: 0, block: Script.blockA, from: index)) }
        #expect(script.decision != nil)
        script.send(.startHeight(Height(2), validators: Script.validators, previousBlockTime: Timestamp(millisecondsSinceEpoch: 103)))
        #expect(script.state.height == Height(2) && script.state.round == Round(0) && script.state.lockedValue == nil)
        #expect(script.state.gossip.contains(Script.vote(.prevote, round: 0, block: Script.blockB, from: 3, height: 2).message))
    }
}

extension ConsensusEvent {
    var message: ConsensusMessage {
        switch self {
        case let .vote(signed): .vote(signed)
        case let .proposal(signed): .proposal(signed)
        default: preconditionFailure("not a message")
        }
    }
}
