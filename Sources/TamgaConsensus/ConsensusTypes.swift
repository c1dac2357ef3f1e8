public import TamgaCore

/// The steps of a round, in order. The order matters: a validator never signs at a
/// (height, round, step) at or below the last one it persisted.
public enum Step: UInt8, Hashable, Comparable, Sendable, CustomStringConvertible {
    case propose = 1
    case prevote = 2
    case precommit = 3

    public static func < (lhs: Step, rhs: Step) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String {
        switch self {
        case .propose: "propose"
        case .prevote: "prevote"
        case .precommit: "precommit"
        }
    }
}

/// A message between validators.
public enum ConsensusMessage: Hashable, Sendable {
    case proposal(SignedProposal)
    case vote(SignedVote)

    public var height: Height {
        switch self {
        case let .proposal(signed): signed.proposal.height
        case let .vote(signed): signed.vote.height
        }
    }

    public var round: Round {
        switch self {
        case let .proposal(signed): signed.proposal.round
        case let .vote(signed): signed.vote.round
        }
    }

    /// The validator that signed it.
    public var signer: ValidatorIndex {
        switch self {
        case let .proposal(signed): signed.proposal.proposer
        case let .vote(signed): signed.vote.validator
        }
    }

    /// The step it was signed at.
    public var step: Step {
        switch self {
        case .proposal: .propose
        case let .vote(signed): signed.vote.kind == .prevote ? .prevote : .precommit
        }
    }

    /// The bytes that were signed.
    public var signBytes: [UInt8] {
        switch self {
        case let .proposal(signed): signed.proposal.signBytes
        case let .vote(signed): signed.vote.signBytes
        }
    }
}

/// What a validator persists before any signature it makes leaves the process: the step it signed
/// at, the message, and its lock. After a restart it resumes from this record and never signs
/// at or below (height, round, step) again, and keeps its lock, which safety depends on.
public struct SigningRecord: Hashable, Sendable {
    public let height: Height
    public let round: Round
    public let step: Step
    public let message: ConsensusMessage
    public let lockedRound: Round?
    public let lockedValue: Hash?

    public init(height: Height, round: Round, step: Step, message: ConsensusMessage, lockedRound: Round?, lockedValue: Hash?) {
        self.height = height
        self.round = round
        self.step = step
        self.message = message
        self.lockedRound = lockedRound
        self.lockedValue = lockedValue
    }

    /// Whether signing at (height, round, step) would go past this record.
    public func permitsSigning(height: Height, round: Round, step: Step) -> Bool {
        (height, round, step) > (self.height, self.round, self.step)
    }
}

/// Two votes signed by one validator for different blocks at the same height, round and kind:
/// proof of equivocation that anyone can check, kept for inclusion in a block.
public struct Evidence: Hashable, Sendable {
    public let first: SignedVote
    public let second: SignedVote

    /// Builds evidence when the two votes really conflict and both signatures are valid; nil otherwise.
    public init?(_ first: SignedVote, _ second: SignedVote, validators: ValidatorSet) {
        let a = first.vote, b = second.vote
        guard a.validator == b.validator, a.height == b.height, a.round == b.round, a.kind == b.kind,
              a.chainID == b.chainID, a.blockHash != b.blockHash,
              first.isValid(in: validators), second.isValid(in: validators)
        else { return nil }
        // A canonical order, so that the same pair found by two nodes is the same evidence.
        if first.encoded().lexicographicallyPrecedes(second.encoded()) {
            self.first = first
            self.second = second
        } else {
            self.first = second
            self.second = first
        }
    }

    public var validator: ValidatorIndex { first.vote.validator }
    public var height: Height { first.vote.height }

    /// `H(0x0b ‖ first ‖ second)`: what a block's evidence root commits to.
    public var hash: Hash { .tagged(.evidence, first.encoded() + second.encoded()) }
}

/// How long each step waits, growing linearly with the round so that a round eventually lasts
/// long enough for a slow but honest network.
public struct TimeoutConfig: Hashable, Sendable {
    public var proposeMillis: UInt64
    public var prevoteMillis: UInt64
    public var precommitMillis: UInt64
    /// Added to each timeout per round.
    public var deltaMillisPerRound: UInt64

    public init(proposeMillis: UInt64 = 1_000, prevoteMillis: UInt64 = 500, precommitMillis: UInt64 = 500, deltaMillisPerRound: UInt64 = 250) {
        self.proposeMillis = proposeMillis
        self.prevoteMillis = prevoteMillis
        self.precommitMillis = precommitMillis
        self.deltaMillisPerRound = deltaMillisPerRound
    }

    /// The timeout of `step` in `round`.
    public func duration(_ step: Step, round: Round) -> UInt64 {
        let base = switch step {
        case .propose: proposeMillis
        case .prevote: prevoteMillis
        case .precommit: precommitMillis
        }
        return base + deltaMillisPerRound * UInt64(min(round.rawValue, 10_000))
    }
}

/// A timeout the state machine asked for; it comes back as an event when it fires.
public struct Timeout: Hashable, Sendable {
    public let height: Height
    public let round: Round
    public let step: Step

    public init(height: Height, round: Round, step: Step) {
        self.height = height
        self.round = round
        self.step = step
    }
}
