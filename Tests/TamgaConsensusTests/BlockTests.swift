@testable import TamgaConsensus
import TamgaCore
import Testing

@Suite struct BlockTests {
    static let chain = try! ChainID("tamga-test")
    static let keys = (0..<4).map { try! SigningKey(seed: [UInt8](repeating: UInt8($0 + 1), count: 32)) }

    static func validators(_ powers: [UInt64]) -> ValidatorSet {
        try! ValidatorSet(zip(keys, powers).map { Validator(publicKey: $0.publicKey, votingPower: $1) })
    }

    static func commit(block: Hash, times: [(Int, UInt64)]) -> Commit {
        Commit(height: Height(1), round: Round(0), blockHash: block, signatures: times.map { index, time in
            let vote = Vote(kind: .precommit, chainID: chain, height: Height(1), round: Round(0), blockHash: block,
                            timestamp: Timestamp(millisecondsSinceEpoch: time), validator: ValidatorIndex(UInt16(index)))
            return CommitSignature(validator: vote.validator, timestamp: vote.timestamp, signature: vote.signed(with: keys[index]).signature)
        })
    }

    @Test func weightedMedianFollowsVotingPower() {
        let equal = Self.validators([1, 1, 1, 1])
        #expect(BlockTime.weightedMedian(of: Self.commit(block: .zero, times: [(0, 10), (1, 30), (2, 20)]), validators: equal).rawValue == 20)
        // One validator with most of the power decides the median.
        let heavy = Self.validators([10, 1, 1, 1])
        #expect(BlockTime.weightedMedian(of: Self.commit(block: .zero, times: [(0, 99), (1, 1), (2, 2), (3, 3)]), validators: heavy).rawValue == 99)
        // An outlier with little power cannot move it.
        #expect(BlockTime.weightedMedian(of: Self.commit(block: .zero, times: [(0, 50), (1, 51), (2, 52), (3, 9_999_999)]), validators: equal).rawValue == 52)
    }

    @Test func proposerIsWeightedRoundRobin() {
        let equal = Self.validators([1, 1, 1, 1])
        #expect((0..<8).map { equal.proposer(height: Height(0), round: Round($0)).rawValue } == [0, 1, 2, 3, 0, 1, 2, 3])
        #expect(equal.proposer(height: Height(5), round: Round(2)) == equal.proposer(height: Height(7), round: Round(0)))
        let weighted = Self.validators([3, 1, 1, 1])
        let cycle = (0..<6).map { weighted.proposer(height: Height(0), round: Round($0)).rawValue }
        #expect(cycle.filter { $0 == 0 }.count == 3)
        #expect(Set(cycle) == [0, 1, 2, 3])
        // Spread out, not bunched: the heavy validator never proposes three rounds running.
        #expect(!cycle.indices.dropLast(2).contains { cycle[$0] == 0 && cycle[$0 + 1] == 0 && cycle[$0 + 2] == 0 })
    }

    @Test func validatesEverythingConsensusOwns() throws {
        let validators = Self.validators([1, 1, 1, 1])
        let previous = Hash.sha256(Array("block 1".utf8))
        let lastCommit = Self.commit(block: previous, times: [(0, 100), (1, 200), (2, 300)])
        let tip = ChainTip(chainID: Self.chain, height: Height(2), previousBlockHash: previous, previousValidators: validators,
                           validators: validators, genesisTime: Timestamp(millisecondsSinceEpoch: 1))
        func block(time: UInt64 = 200, previousHash: Hash = previous, commit: Commit? = lastCommit, proposer: UInt16 = 1, height: UInt64 = 2,
                   evidence: [Evidence] = []) -> Block {
            let header = BlockHeader(chainID: Self.chain, height: Height(height), time: Timestamp(millisecondsSinceEpoch: time),
                                     previousBlockHash: previousHash, lastCommitHash: commit?.hash ?? .zero,
                                     transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot(evidence), stateRoot: .zero,
                                     validatorSetHash: validators.hash, proposer: ValidatorIndex(proposer))
            return Block(header: header, transactions: [], lastCommit: commit, evidence: evidence)
        }
        try tip.validate(block())
        #expect(throws: BlockError.wrongTime(expected: Timestamp(millisecondsSinceEpoch: 200), actual: Timestamp(millisecondsSinceEpoch: 201))) {
            try tip.validate(block(time: 201))
        }
        #expect(throws: BlockError.wrongPreviousBlock) { try tip.validate(block(previousHash: .zero)) }
        #expect(throws: BlockError.missingLastCommit) { try tip.validate(block(commit: nil)) }
        #expect(throws: BlockError.unknownProposer(ValidatorIndex(7))) { try tip.validate(block(proposer: 7)) }
        #expect(throws: BlockError.wrongHeight(expected: Height(2), actual: Height(3))) { try tip.validate(block(height: 3)) }
        let weak = Self.commit(block: previous, times: [(0, 100), (1, 200)])
        #expect(throws: BlockError.lastCommitInvalid(.insufficientPower(signed: 2, total: 4))) { try tip.validate(block(commit: weak)) }

        // Evidence of an equivocation at this height is accepted; a forged one is not.
        func vote(_ hash: Hash?, by index: Int, key: SigningKey) -> SignedVote {
            Vote(kind: .prevote, chainID: Self.chain, height: Height(2), round: Round(0), blockHash: hash,
                 timestamp: Timestamp(millisecondsSinceEpoch: 1), validator: ValidatorIndex(UInt16(index))).signed(with: key)
        }
        let evidence = try #require(Evidence(vote(.zero, by: 3, key: Self.keys[3]), vote(nil, by: 3, key: Self.keys[3]), validators: validators))
        try tip.validate(block(evidence: [evidence]))
        let forged = Evidence(vote(.zero, by: 3, key: Self.keys[2]), vote(nil, by: 3, key: Self.keys[3]), validators: validators)
        #expect(forged == nil)
        let header = block(evidence: [evidence]).header
        let missing = Block(header: header, transactions: [], lastCommit: lastCommit, evidence: [])
        #expect(throws: BlockError.wrongEvidenceRoot) { try tip.validate(missing) }

        // Evidence heights come off the wire: the largest one is refused, not an overflow trap.
        func farVote(_ hash: Hash?) -> SignedVote {
            Vote(kind: .prevote, chainID: Self.chain, height: Height(UInt64.max), round: Round(0), blockHash: hash,
                 timestamp: Timestamp(millisecondsSinceEpoch: 1), validator: ValidatorIndex(3)).signed(with: Self.keys[3])
        }
        let far = try #require(Evidence(farVote(.zero), farVote(nil), validators: validators))
        #expect(throws: BlockError.invalidEvidence(ValidatorIndex(3))) { try tip.validate(block(evidence: [far])) }
    }

    @Test("the next height's messages are held only when they verify, a few per validator")
    func futureMessagesAreCheckedAndBounded() throws {
        let validators = Self.validators([1, 1, 1, 1])
        var state = ConsensusState(chainID: Self.chain, height: Height(1), validators: validators, previousBlockTime: Timestamp(millisecondsSinceEpoch: 1))
        let now = Timestamp(millisecondsSinceEpoch: 2)
        func vote(round: UInt32, kind: VoteKind = .prevote, by index: Int, key: SigningKey? = nil) -> SignedVote {
            Vote(kind: kind, chainID: Self.chain, height: Height(2), round: Round(round), blockHash: nil,
                 timestamp: now, validator: ValidatorIndex(UInt16(index))).signed(with: key ?? Self.keys[index])
        }
        _ = state.handle(.vote(vote(round: 0, by: 1, key: Self.keys[2])), now: now)
        #expect(state.heldFutureMessages == 0, "a forged signature")
        let outOfTurn = try #require((0..<4).first { validators.proposer(height: Height(2), round: Round(UInt32($0))) != ValidatorIndex(1) })
        let proposal = Proposal(chainID: Self.chain, height: Height(2), round: Round(UInt32(outOfTurn)), proofOfLockRound: nil, blockHash: .zero,
                                timestamp: now, proposer: ValidatorIndex(1)).signed(with: Self.keys[1])
        _ = state.handle(.proposal(proposal), now: now)
        #expect(state.heldFutureMessages == 0, "a proposal out of turn")
        for round in 0..<10 { _ = state.handle(.vote(vote(round: UInt32(round), by: 1)), now: now) }
        #expect(state.heldFutureMessages == ConsensusState.futureMessagesPerValidatorMax)
        _ = state.handle(.vote(vote(round: 0, by: 2)), now: now)
        #expect(state.heldFutureMessages == ConsensusState.futureMessagesPerValidatorMax + 1, "another validator still has its allowance")
    }
}

@Suite struct ValidatorScheduleTests {
    @Test func aDecidedChangeTakesEffectTwoHeightsLater() {
        let four = BlockTests.validators([1, 1, 1, 1])
        let weighted = BlockTests.validators([5, 1, 1, 1])
        var schedule = ValidatorSchedule(genesis: four)
        schedule.schedule(weighted, decidedAt: Height(10))
        #expect(schedule.validators(at: Height(1)) == four)
        #expect(schedule.validators(at: Height(11)) == four)
        #expect(schedule.validators(at: Height(12)) == weighted)
        #expect(schedule.validators(at: Height(1_000)) == weighted)
        // A second decision in the same block replaces the first.
        schedule.schedule(four, decidedAt: Height(10))
        #expect(schedule.validators(at: Height(12)) == four)
        #expect(schedule.sets.count == 2)
    }
}
