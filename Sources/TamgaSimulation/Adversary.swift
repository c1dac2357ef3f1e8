import TamgaConsensus
import TamgaCore

/// One occasion on which the Byzantine replicas act.
struct AdversaryStep: Hashable {
    let height: Height
    let round: Round
    /// Nil: the round itself (propose, vote); a hash: an honest proposal they now vote for too.
    let honestProposal: Hash?
}

extension Cluster {
    /// The Byzantine replicas act together and see everything that reaches any of them. They split
    /// the honest replicas into two groups and, in every round they observe, tell each group a
    /// different story: two different valid proposals when one of them proposes, and prevotes and
    /// precommits for a different value to each group. With at most f of them the honest replicas
    /// must still agree; with f + 1 they can make two groups decide differently.
    mutating func adversaryReceives(_ message: WireMessage) {
        let (height, round): (Height, Round)
        switch message {
        case let .proposal(signed, _):
            (height, round) = (signed.proposal.height, signed.proposal.round)
            act(height: height, round: round, honestProposal: signed.proposal.blockHash)
        case let .vote(signed):
            (height, round) = (signed.vote.height, signed.vote.round)
        case .decided:
            return
        }
        // Act ahead too: a lying proposer must speak before the honest replicas time out.
        act(height: height, round: round, honestProposal: nil)
        act(height: height, round: round.next, honestProposal: nil)
        act(height: height.next, round: Round(0), honestProposal: nil)
    }

    private mutating func act(height: Height, round: Round, honestProposal: Hash?) {
        let occasion = AdversaryStep(height: height, round: round, honestProposal: honestProposal)
        // Build on the chain the honest replicas share below this height, once one has decided it.
        guard !adversaryActed.contains(occasion),
              let chain = honest.compactMap({ replicas[$0]?.chain }).first(where: { $0.count >= Int(height.rawValue) - 1 })
        else { return }
        adversaryActed.insert(occasion)
        let base = Array(chain.prefix(Int(height.rawValue) - 1))
        let groups = splitHonest()
        var values: [Hash?] = [honestProposal, nil]
        let proposer = Int(validators.proposer(height: height, round: round).rawValue)
        if honestProposal == nil, byzantine.contains(proposer) {
            for (group, variant) in zip(groups, [UInt8(1), 2]) {
                let block = buildBlock(on: base, height: height, round: round, variant: variant)
                let proposal = Proposal(chainID: chainID, height: height, round: round, proofOfLockRound: nil, blockHash: block.hash,
                                        timestamp: Timestamp(millisecondsSinceEpoch: genesisTime.rawValue + now), proposer: ValidatorIndex(UInt16(proposer)))
                let signed = proposal.signed(with: keys[proposer])
                for peer in group { transmit(.proposal(signed, block), from: proposer, to: peer) }
                values[Int(variant) - 1] = block.hash
            }
        }
        guard honestProposal != nil || byzantine.contains(proposer) || values.allSatisfy({ $0 == nil }) else { return }
        for liar in byzantine.sorted() {
            for (group, value) in zip(groups, values) {
                for kind in [VoteKind.prevote, .precommit] {
                    let vote = Vote(kind: kind, chainID: chainID, height: height, round: round, blockHash: value,
                                    timestamp: Timestamp(millisecondsSinceEpoch: genesisTime.rawValue + now), validator: ValidatorIndex(UInt16(liar)))
                    let signed = vote.signed(with: keys[liar])
                    for peer in group { transmit(.vote(signed), from: liar, to: peer) }
                }
            }
        }
    }

    /// Honest replicas alternately into two groups.
    private func splitHonest() -> [[Int]] {
        let sorted = honest
        return [sorted.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), sorted.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)]
    }
}

/// Checks, as the run goes, the properties that must hold whatever the faults.
struct SafetyChecker {
    struct SigningStep: Hashable {
        let validator: Int
        let height: Height
        let round: Round
        let step: Step
    }

    var violations: [String] = []
    private var signed: [SigningStep: [UInt8]] = [:]
    private var decisions: [Height: Hash] = [:]

    /// No honest replica signs two different messages at one (height, round, step), even across restarts.
    mutating func recordSignature(_ message: ConsensusMessage, by validator: Int) {
        let step = SigningStep(validator: validator, height: message.height, round: message.round, step: message.step)
        if let earlier = signed[step], earlier != message.signBytes {
            violations.append("double signing: honest validator \(validator) signed twice at height \(step.height), round \(step.round), \(step.step)")
        }
        signed[step] = message.signBytes
    }

    /// Agreement (one block per height) and validity (the block was proposed by that round's
    /// proposer, is valid on the decided chain, and its commit is genuine).
    mutating func recordDecision(height: Height, hash: Hash, block: Block, proposal: SignedProposal, commit: Commit, by replica: Int, tip: ChainTip, validators: ValidatorSet) {
        if let earlier = decisions[height], earlier != hash {
            violations.append("agreement: honest replica \(replica) decided \(hash) at height \(height), another decided \(earlier)")
        }
        decisions[height] = hash
        let proposed = proposal.proposal
        if proposed.blockHash != hash || block.hash != hash || proposed.proposer != validators.proposer(height: height, round: proposed.round)
            || !proposal.isValid(in: validators) {
            violations.append("validity: block \(hash) at height \(height) was not proposed by the proposer of its round")
        }
        do {
            try tip.validate(block)
            try commit.verify(blockHash: hash, height: height, chainID: tip.chainID, validators: validators)
        } catch {
            violations.append("validity: decided block \(hash) at height \(height) is invalid: \(error)")
        }
    }
}

/// A min-heap of events by time; events at the same time leave in the order they were pushed.
struct EventQueue<Event> {
    private var heap: [(time: UInt64, sequence: UInt64, event: Event)] = []
    private var sequence: UInt64 = 0

    mutating func push(at time: UInt64, _ event: Event) {
        sequence += 1
        heap.append((time, sequence, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (UInt64, Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, precedes(left, smallest) { smallest = left }
            if right < heap.count, precedes(right, smallest) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.event)
    }

    private func precedes(_ a: Int, _ b: Int) -> Bool { (heap[a].time, heap[a].sequence) < (heap[b].time, heap[b].sequence) }
}

/// The simulation's only source of randomness, seeded.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
