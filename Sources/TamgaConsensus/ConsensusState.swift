public import TamgaCore

/// Something that happened, handed to the state machine.
public enum ConsensusEvent: Hashable, Sendable {
    /// Begin (or, after a restart, resume) the current height.
    case start
    case proposal(SignedProposal)
    case vote(SignedVote)
    case timeout(Timeout)
    /// The application's verdict on a proposed block, asked for by `validateBlock`.
    case blockValidity(blockHash: Hash, isValid: Bool)
    /// The application built the block this validator proposes, asked for by `buildBlock`.
    case blockBuilt(height: Height, round: Round, blockHash: Hash)
    /// Move to the next height after a decision, with that height's validators and the time of
    /// the block just decided.
    case startHeight(Height, validators: ValidatorSet, previousBlockTime: Timestamp)
}

/// Something the state machine asks its driver to do, in order.
public enum ConsensusEffect: Hashable, Sendable {
    /// Save `record` durably, and only then send `record.message` to every peer.
    case persistThenBroadcast(SigningRecord)
    /// Send an already persisted message again.
    case broadcast(ConsensusMessage)
    /// Deliver `.timeout(timeout)` after this many milliseconds.
    case scheduleTimeout(Timeout, afterMillis: UInt64)
    /// Check the block with this hash and answer with `.blockValidity`.
    case validateBlock(height: Height, round: Round, blockHash: Hash)
    /// Build a block to propose and answer with `.blockBuilt`.
    case buildBlock(height: Height, round: Round)
    /// The block is final; `commit` proves it. Answer with `.startHeight` to go on.
    case decide(height: Height, round: Round, blockHash: Hash, commit: Commit, proposal: SignedProposal)
    /// A validator equivocated.
    case evidence(Evidence)
}

/// Tendermint BFT for one validator, as a value: `handle(_:now:)` takes an event and returns the
/// effects to carry out. No I/O, no clock (time comes in with each event), no randomness.
///
/// It follows Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic,
/// 2018); docs/consensus.md maps each line of the paper to the code. "2f + 1" and "f + 1" are
/// voting power: more than two thirds, and more than one third, of the total.
public struct ConsensusState: Sendable {
    /// Rounds further ahead than this are ignored, so that a lying peer cannot make a validator
    /// store votes for millions of rounds.
    public static let roundsAheadMax: UInt32 = 64
    /// Messages for the next height held while this one finishes.
    public static let futureMessagesMax = Limits.validatorsMax * 4
    /// Different proposals kept per round. An equivocating proposer may send more; beyond this,
    /// only a proposal whose block already has votes from more than a third of the power is kept.
    public static let proposalsPerRoundMax = 2
    /// Different votes kept per validator, round and kind.
    public static let votesPerValidatorMax = 3

    public let chainID: ChainID
    public let timeouts: TimeoutConfig
    /// This node's key; nil for a node that never votes.
    private let signingKey: SigningKey?
    /// This node's key and its index in the current height's set; nil while the set does not
    /// hold the key (a follower, a validator not yet added or already removed).
    private var signer: (key: SigningKey, index: ValidatorIndex)?

    public private(set) var height: Height
    public private(set) var round = Round(0)
    public private(set) var step = Step.propose
    public private(set) var validators: ValidatorSet
    private var proposerCycle: [ValidatorIndex]
    /// The set of the next height and its proposer cycle, once the driver says it
    /// (`expectNextHeight`): early messages of that height are judged by it.
    private var nextSet: (validators: ValidatorSet, cycle: [ValidatorIndex])?
    private var previousBlockTime: Timestamp
    /// Set once the height is decided, until `.startHeight`.
    public private(set) var hasDecided = false

    public private(set) var lockedValue: Hash?
    public private(set) var lockedRound: Round?
    public private(set) var validValue: Hash?
    public private(set) var validRound: Round?
    /// The last record handed out for persistence.
    public private(set) var lastSigned: SigningRecord?
    /// Signed messages of the current height to take back after a restart.
    private var resumedMessages: [ConsensusMessage] = []

    /// Proposals per round by block hash, and the one that arrived first (the one prevoted on).
    private var proposals: [Round: [Hash: SignedProposal]] = [:]
    private var firstProposal: [Round: SignedProposal] = [:]
    /// Votes per round and validator. An equivocating validator may have several (up to
    /// `votesPerValidatorMax`, each for a different value); each counts for its own value. That
    /// is safe (two quorums still share an honest validator) and it keeps a replica from missing
    /// a real polka or commit because it heard the other half of a lie first.
    private var prevotes: [Round: [ValidatorIndex: [SignedVote]]] = [:]
    private var precommits: [Round: [ValidatorIndex: [SignedVote]]] = [:]
    private var senders: [Round: Set<ValidatorIndex>] = [:]
    private var validity: [Hash: Bool] = [:]
    private var validationRequested: Set<Hash> = []
    private var buildRequested: Set<Round> = []
    private var prevoteTimeoutScheduled: Set<Round> = []
    private var precommitTimeoutScheduled: Set<Round> = []
    private var polkaSeen: Set<Round> = []
    private var equivocators: Set<ValidatorIndex> = []
    private var futureMessages: [ConsensusMessage] = []

    /// - Parameters:
    ///   - signingKey: this node's key; it votes at every height whose set holds the key. Nil to
    ///     follow without ever voting.
    ///   - resumingFrom: after a restart, the `SigningRecord`s persisted since the last decided
    ///     height (at least the last one ever persisted). The last sets the signing guard and the
    ///     lock; the messages of the current height are taken back and sent again, so that peers
    ///     that missed a vote before the crash still get it.
    public init(
        chainID: ChainID, height: Height, validators: ValidatorSet, previousBlockTime: Timestamp,
        timeouts: TimeoutConfig = TimeoutConfig(), signingKey: SigningKey? = nil,
        resumingFrom records: [SigningRecord] = []
    ) {
        self.signingKey = signingKey
        signer = ConsensusState.signer(signingKey, in: validators)
        self.chainID = chainID
        self.height = height
        self.validators = validators
        self.proposerCycle = validators.proposerCycle
        self.previousBlockTime = previousBlockTime
        self.timeouts = timeouts
        let last = records.max { ($0.height, $0.round, $0.step) < ($1.height, $1.round, $1.step) }
        self.lastSigned = last
        if let last, last.height == height {
            lockedValue = last.lockedValue
            lockedRound = last.lockedRound
            resumedMessages = records.filter { $0.height == height }
                .sorted { ($0.round, $0.step) < ($1.round, $1.step) }
                .map(\.message)
        }
    }

    /// The proposer of `round` at the current height.
    public func proposer(of round: Round) -> ValidatorIndex {
        ValidatorSet.proposer(in: proposerCycle, height: height, round: round)
    }

    /// The messages of the current height worth sending again to peers that may have missed them:
    /// the proposals held, every vote of the current round, the prevotes of the polkas behind
    /// this validator's lock and valid value (a peer needs them to follow a re-proposal), and this
    /// validator's own votes.
    public var gossip: [ConsensusMessage] {
        var messages = proposals.keys.sorted().flatMap { round in
            (proposals[round] ?? [:]).keys.sorted().compactMap { proposals[round]?[$0].map(ConsensusMessage.proposal) }
        }
        func votes(_ log: [Round: [ValidatorIndex: [SignedVote]]], _ round: Round?) -> [SignedVote] {
            guard let round, let byValidator = log[round] else { return [] }
            return byValidator.keys.sorted().flatMap { byValidator[$0] ?? [] }
        }
        var shared = votes(prevotes, round) + votes(precommits, round)
        for polkaRound in Set([lockedRound, validRound].compactMap { $0 }).sorted() where polkaRound != round {
            shared += votes(prevotes, polkaRound)
        }
        if let me = signer?.index {
            for log in [prevotes, precommits] {
                for voteRound in log.keys.sorted() where voteRound != round {
                    shared += log[voteRound]?[me] ?? []
                }
            }
        }
        var seen: Set<SignedVote> = []
        messages += shared.filter { seen.insert($0).inserted }.map(ConsensusMessage.vote)
        return messages
    }

    /// Handles one event at time `now` and returns what to do, in order.
    public mutating func handle(_ event: ConsensusEvent, now: Timestamp) -> [ConsensusEffect] {
        var effects: [ConsensusEffect] = []
        switch event {
        case .start:
            start(now: now, into: &effects)
        case let .proposal(signed):
            accept(.proposal(signed), into: &effects)
        case let .vote(signed):
            accept(.vote(signed), into: &effects)
        case let .timeout(timeout):
            onTimeout(timeout, now: now, into: &effects)
        case let .blockValidity(hash, isValid):
            if validationRequested.contains(hash) { validity[hash] = isValid }
        case let .blockBuilt(builtHeight, builtRound, hash):
            if builtHeight == height, builtRound == round, step == .propose, !hasDecided, firstProposal[round] == nil,
               signer.map({ proposer(of: round) == $0.index }) == true {
                validity[hash] = true
                validationRequested.insert(hash)
                propose(hash, proofOfLockRound: nil, now: now, into: &effects)
            }
        case let .startHeight(next, nextValidators, blockTime):
            guard hasDecided, next == height.next else { break }
            beginHeight(next, validators: nextValidators, previousBlockTime: blockTime)
            startRound(Round(0), now: now, into: &effects)
            let buffered = futureMessages
            futureMessages = []
            for message in buffered { accept(message, into: &effects) }
        }
        evaluate(now: now, into: &effects)
        return effects
    }

    // MARK: Rounds

    private mutating func start(now: Timestamp, into effects: inout [ConsensusEffect]) {
        guard let record = lastSigned, !resumedMessages.isEmpty else {
            startRound(Round(0), now: now, into: &effects)
            return
        }
        // After a restart: go back to the round last signed in, take back what was signed at this
        // height, mark the step as done, and send it all again in case some of it never left.
        let messages = resumedMessages
        resumedMessages = []
        startRound(record.round, now: now, into: &effects)
        for message in messages {
            accept(message, into: &effects)
            effects.append(.broadcast(message))
        }
        if record.step > step { step = record.step }
    }

    /// The key with its index in `validators`, if the set holds it.
    private static func signer(_ key: SigningKey?, in validators: ValidatorSet) -> (key: SigningKey, index: ValidatorIndex)? {
        guard let key, let index = validators.index(of: key.publicKey) else { return nil }
        return (key, index)
    }

    /// Names the validator set of the height after the current one (it differs when a change takes
    /// effect there), so that the messages of that height held early are judged by their own set.
    public mutating func expectNextHeight(validators next: ValidatorSet) {
        nextSet = (next, next == validators ? proposerCycle : next.proposerCycle)
    }

    /// This node's index in the current height's set, if it votes at this height.
    public var validatorIndex: ValidatorIndex? { signer?.index }

    private mutating func beginHeight(_ next: Height, validators nextValidators: ValidatorSet, previousBlockTime blockTime: Timestamp) {
        height = next
        validators = nextValidators
        signer = ConsensusState.signer(signingKey, in: nextValidators)
        nextSet = nil
        proposerCycle = nextValidators.proposerCycle
        previousBlockTime = blockTime
        hasDecided = false
        round = Round(0)
        step = .propose
        lockedValue = nil
        lockedRound = nil
        validValue = nil
        validRound = nil
        proposals = [:]
        firstProposal = [:]
        prevotes = [:]
        precommits = [:]
        senders = [:]
        validity = [:]
        validationRequested = []
        buildRequested = []
        prevoteTimeoutScheduled = []
        precommitTimeoutScheduled = []
        polkaSeen = []
        equivocators = []
    }

    /// Paper lines 11–21.
    private mutating func startRound(_ newRound: Round, now: Timestamp, into effects: inout [ConsensusEffect]) {
        round = newRound
        step = .propose
        if let me = signer?.index, proposer(of: round) == me {
            if let validValue {
                propose(validValue, proofOfLockRound: validRound, now: now, into: &effects)
            } else if buildRequested.insert(round).inserted {
                effects.append(.buildBlock(height: height, round: round))
            }
        }
        let timeout = Timeout(height: height, round: round, step: .propose)
        effects.append(.scheduleTimeout(timeout, afterMillis: timeouts.duration(.propose, round: round)))
    }

    /// Paper lines 57–67.
    private mutating func onTimeout(_ timeout: Timeout, now: Timestamp, into effects: inout [ConsensusEffect]) {
        guard timeout.height == height, timeout.round == round, !hasDecided else { return }
        switch timeout.step {
        case .propose where step == .propose:
            castVote(.prevote, for: nil, now: now, into: &effects)
            step = .prevote
        case .prevote where step == .prevote:
            castVote(.precommit, for: nil, now: now, into: &effects)
            step = .precommit
        case .precommit:
            startRound(round.next, now: now, into: &effects)
        default:
            break
        }
    }

    // MARK: Messages in

    /// Checks a message from a peer (or this validator's own) and records it. Anything malformed,
    /// unsigned, for another chain or height, or too far ahead is dropped.
    private mutating func accept(_ message: ConsensusMessage, into effects: inout [ConsensusEffect]) {
        let messageHeight = message.height
        if messageHeight == height.next || (hasDecided && messageHeight == height) {
            // Too early: keep a bounded number for when the next height starts, only messages that
            // verify, and only a few per validator, so that no peer can crowd out the others.
            if messageHeight == height.next, futureMessages.count < Self.futureMessagesMax, isWorthKeeping(message) {
                futureMessages.append(message)
            }
            return
        }
        guard messageHeight == height, message.round.rawValue <= round.rawValue &+ Self.roundsAheadMax else { return }
        switch message {
        case let .proposal(signed):
            let proposal = signed.proposal
            let held = proposals[proposal.round] ?? [:]
            guard proposal.chainID == chainID, proposal.proposer == proposer(of: proposal.round), held[proposal.blockHash] == nil else { return }
            let supported = validators.isMoreThanOneThird(max(prevotePower(proposal.round, for: proposal.blockHash), precommitPower(proposal.round, for: proposal.blockHash)))
            guard held.count < Self.proposalsPerRoundMax || supported, signed.isValid(in: validators) else { return }
            proposals[proposal.round, default: [:]][proposal.blockHash] = signed
            if firstProposal[proposal.round] == nil { firstProposal[proposal.round] = signed }
        case let .vote(signed):
            let vote = signed.vote
            guard vote.chainID == chainID, validators[vote.validator] != nil else { return }
            let existing = (vote.kind == .prevote ? prevotes : precommits)[vote.round]?[vote.validator] ?? []
            guard !existing.contains(where: { $0.vote.blockHash == vote.blockHash }), existing.count < Self.votesPerValidatorMax,
                  signed.isValid(in: validators)
            else { return }
            if let first = existing.first, !equivocators.contains(vote.validator), let evidence = Evidence(first, signed, validators: validators) {
                equivocators.insert(vote.validator)
                effects.append(.evidence(evidence))
            }
            if vote.kind == .prevote {
                prevotes[vote.round, default: [:]][vote.validator, default: []].append(signed)
            } else {
                precommits[vote.round, default: [:]][vote.validator, default: []].append(signed)
            }
        }
        senders[message.round, default: []].insert(message.signer)
    }

    /// How many messages of the next height are held now.
    var heldFutureMessages: Int { futureMessages.count }

    /// Messages held for the next height per validator: round 0's proposal and two votes, and one more.
    public static let futureMessagesPerValidatorMax = 4

    /// A message of the next height worth holding: early in its rounds, for this chain, by the
    /// validator whose turn it is (for a proposal), not yet held, within its signer's allowance,
    /// and correctly signed (checked last, as it is the costly part).
    private func isWorthKeeping(_ message: ConsensusMessage) -> Bool {
        let (validators, proposerCycle) = nextSet ?? (validators, proposerCycle)
        guard message.round.rawValue <= Self.roundsAheadMax, validators[message.signer] != nil,
              futureMessages.count(where: { $0.signer == message.signer }) < Self.futureMessagesPerValidatorMax,
              !futureMessages.contains(message)
        else { return false }
        switch message {
        case let .proposal(signed):
            let proposal = signed.proposal
            return proposal.chainID == chainID && proposal.proposer == ValidatorSet.proposer(in: proposerCycle, height: proposal.height, round: proposal.round)
                && signed.isValid(in: validators)
        case let .vote(signed):
            return signed.vote.chainID == chainID && signed.isValid(in: validators)
        }
    }

    // MARK: The "upon" rules

    /// Applies every rule whose condition holds, until none does.
    private mutating func evaluate(now: Timestamp, into effects: inout [ConsensusEffect]) {
        var progressed = true
        while progressed && !hasDecided {
            progressed = false
            // Lines 55–56: f + 1 validators are in a later round; follow them.
            if let later = senders.keys.filter({ $0 > round && validators.isMoreThanOneThird(power(of: senders[$0] ?? [])) }).max() {
                startRound(later, now: now, into: &effects)
                progressed = true
                continue
            }
            // Lines 49–54: a proposal with precommits of 2f + 1 in any round decides.
            for proposalRound in proposals.keys.sorted() {
                for (value, signed) in (proposals[proposalRound] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    guard validators.isQuorum(precommitPower(proposalRound, for: value)) else { continue }
                    guard isValid(value, round: proposalRound, into: &effects) else { continue }
                    decide(signed, round: proposalRound, into: &effects)
                    return
                }
            }
            progressed = applyCurrentRoundRules(now: now, into: &effects)
        }
    }

    private mutating func applyCurrentRoundRules(now: Timestamp, into effects: inout [ConsensusEffect]) -> Bool {
        if step == .propose, let proposal = firstProposal[round]?.proposal {
            let value = proposal.blockHash
            if let lockRound = proposal.proofOfLockRound {
                // Lines 28–33: a re-proposal justified by a polka in an earlier round.
                if lockRound < round, validators.isQuorum(prevotePower(lockRound, for: value)),
                   let valid = validityIfKnown(value, round: round, into: &effects) {
                    let free = lockedRound.map { $0 <= lockRound } ?? true
                    castVote(.prevote, for: valid && (free || lockedValue == value) ? value : nil, now: now, into: &effects)
                    step = .prevote
                    return true
                }
            } else if let valid = validityIfKnown(value, round: round, into: &effects) {
                // Lines 22–27: a fresh proposal.
                castVote(.prevote, for: valid && (lockedRound == nil || lockedValue == value) ? value : nil, now: now, into: &effects)
                step = .prevote
                return true
            }
        }
        // Lines 34–35: prevotes of 2f + 1 for anything: start the prevote timeout.
        if step == .prevote, !prevoteTimeoutScheduled.contains(round), validators.isQuorum(power(of: Set((prevotes[round] ?? [:]).keys))) {
            prevoteTimeoutScheduled.insert(round)
            effects.append(.scheduleTimeout(Timeout(height: height, round: round, step: .prevote), afterMillis: timeouts.duration(.prevote, round: round)))
        }
        // Lines 36–43: a polka for the proposal: lock (if still prevoting) and remember it as valid.
        if step >= .prevote, !polkaSeen.contains(round),
           let value = (proposals[round] ?? [:]).keys.sorted().first(where: { validators.isQuorum(prevotePower(round, for: $0)) }),
           validityIfKnown(value, round: round, into: &effects) == true {
            polkaSeen.insert(round)
            if step == .prevote {
                lockedValue = value
                lockedRound = round
                castVote(.precommit, for: value, now: now, into: &effects)
                step = .precommit
            }
            validValue = value
            validRound = round
            return true
        }
        // Lines 44–46: a polka for nil.
        if step == .prevote, validators.isQuorum(prevotePower(round, for: nil)) {
            castVote(.precommit, for: nil, now: now, into: &effects)
            step = .precommit
            return true
        }
        // Lines 47–48: precommits of 2f + 1 for anything: start the precommit timeout.
        if !precommitTimeoutScheduled.contains(round), validators.isQuorum(power(of: Set((precommits[round] ?? [:]).keys))) {
            precommitTimeoutScheduled.insert(round)
            effects.append(.scheduleTimeout(Timeout(height: height, round: round, step: .precommit), afterMillis: timeouts.duration(.precommit, round: round)))
        }
        return false
    }

    // MARK: Helpers

    private func power(of members: Set<ValidatorIndex>) -> UInt64 {
        members.reduce(0) { $0 + (validators[$1]?.votingPower ?? 0) }
    }

    private func prevotePower(_ round: Round, for value: Hash?) -> UInt64 {
        power(of: Set((prevotes[round] ?? [:]).filter { $0.value.contains { $0.vote.blockHash == value } }.keys))
    }

    private func precommitPower(_ round: Round, for value: Hash?) -> UInt64 {
        power(of: Set((precommits[round] ?? [:]).filter { $0.value.contains { $0.vote.blockHash == value } }.keys))
    }

    /// The application's verdict on `value`, asking for it the first time.
    private mutating func validityIfKnown(_ value: Hash, round: Round, into effects: inout [ConsensusEffect]) -> Bool? {
        if let known = validity[value] { return known }
        if validationRequested.insert(value).inserted {
            effects.append(.validateBlock(height: height, round: round, blockHash: value))
        }
        return nil
    }

    private mutating func isValid(_ value: Hash, round: Round, into effects: inout [ConsensusEffect]) -> Bool {
        validityIfKnown(value, round: round, into: &effects) == true
    }

    private mutating func decide(_ signed: SignedProposal, round decidedRound: Round, into effects: inout [ConsensusEffect]) {
        let value = signed.proposal.blockHash
        let entries = (precommits[decidedRound] ?? [:]).values
            .compactMap { votes in votes.first { $0.vote.blockHash == value } }
            .map { CommitSignature(validator: $0.vote.validator, timestamp: $0.vote.timestamp, signature: $0.signature) }
        let commit = Commit(height: height, round: decidedRound, blockHash: value, signatures: entries)
        hasDecided = true
        effects.append(.decide(height: height, round: decidedRound, blockHash: value, commit: commit, proposal: signed))
    }

    private mutating func propose(_ value: Hash, proofOfLockRound: Round?, now: Timestamp, into effects: inout [ConsensusEffect]) {
        guard let (key, me) = signer else { return }
        let proposal = Proposal(chainID: chainID, height: height, round: round, proofOfLockRound: proofOfLockRound,
                                blockHash: value, timestamp: voteTime(now), proposer: me)
        sign(.proposal(proposal.signed(with: key)), step: .propose, into: &effects)
    }

    /// Signs and records a vote, unless it would sign at or below the last persisted step.
    private mutating func castVote(_ kind: VoteKind, for value: Hash?, now: Timestamp, into effects: inout [ConsensusEffect]) {
        guard let (key, me) = signer else { return }
        let vote = Vote(kind: kind, chainID: chainID, height: height, round: round, blockHash: value, timestamp: voteTime(now), validator: me)
        sign(.vote(vote.signed(with: key)), step: kind == .prevote ? .prevote : .precommit, into: &effects)
    }

    private mutating func sign(_ message: ConsensusMessage, step signedStep: Step, into effects: inout [ConsensusEffect]) {
        if let lastSigned, !lastSigned.permitsSigning(height: height, round: round, step: signedStep) { return }
        let record = SigningRecord(height: height, round: round, step: signedStep, message: message, lockedRound: lockedRound, lockedValue: lockedValue)
        lastSigned = record
        effects.append(.persistThenBroadcast(record))
        accept(message, into: &effects)
    }

    /// Vote timestamps move forward past the previous block's time even if a clock lags.
    private func voteTime(_ now: Timestamp) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: max(now.millisecondsSinceEpoch, previousBlockTime.millisecondsSinceEpoch + 1))
    }
}
