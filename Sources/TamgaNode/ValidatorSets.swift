import TamgaConsensus
import TamgaCore
import TamgaLedger
import TamgaStorage

/// The chain's validator sets as this node knows them: the genesis set and each set governance
/// decided since, from the height it governs, with its proposer cycle and, once the block after
/// the deciding one completes it, its handover (the proof a verifier follows from genesis).
///
/// A set decided in block H governs from H + 2, so after executing block H the node knows the set
/// of every height up to H + 2: `horizon`. A height past it is not yet known; the checks of
/// peers' messages leave such messages alone rather than judge them by a set that may be stale.
struct ValidatorSets: Sendable {
    private(set) var schedule: ValidatorSchedule
    /// The proposer cycle of each scheduled set, by the height it governs from.
    private var cycles: [Height: [ValidatorIndex]] = [:]
    /// The handovers of the sets after genesis, by the height each set governs from (a set still
    /// waiting for the block that completes its proof has none yet).
    private(set) var handovers: [Height: ValidatorHandover] = [:]
    /// The last height whose set is known.
    private(set) var horizon: Height

    init(genesis: ValidatorSet, stored: [NodeStore.ScheduledValidators], executed: Height) {
        schedule = ValidatorSchedule(genesis: genesis)
        cycles[Height(1)] = genesis.proposerCycle
        horizon = Height(executed.rawValue + ValidatorSchedule.activationDelay)
        for entry in stored {
            schedule.schedule(entry.validators, decidedAt: Height(entry.from.rawValue - ValidatorSchedule.activationDelay))
            cycles[entry.from] = entry.validators.proposerCycle
            if let handover = entry.handover { handovers[entry.from] = handover }
        }
    }

    /// A node joining by state sync, which has executed nothing: the sets its peers' handovers
    /// lead to replace whatever it held.
    mutating func replaceLearnt(with stored: [NodeStore.ScheduledValidators]) {
        self = ValidatorSets(genesis: schedule.sets[0].validators, stored: stored, executed: Height(0))
    }

    /// The last set scheduled.
    var latest: ValidatorSet { schedule.sets[schedule.sets.count - 1].validators }

    /// The sets of `schedule`, which `ValidatorHandover.follow` made from `handovers`, each with
    /// the handover that proves it.
    static func learnt(from handovers: [ValidatorHandover], schedule: ValidatorSchedule) -> [NodeStore.ScheduledValidators] {
        // `follow` refuses headers at the last heights, so `.next` cannot overflow.
        handovers.compactMap { handover in
            handover.height.map { NodeStore.ScheduledValidators(from: $0.next, validators: schedule.validators(at: $0.next), handover: handover) }
        }
    }

    /// The set that signs `height` (the latest known for a height past the horizon).
    func validators(at height: Height) -> ValidatorSet { schedule.validators(at: height) }

    /// The set of `height` and, if `round` is given, its proposer; nil past the horizon.
    func judge(height: Height, round: Round?) -> (validators: ValidatorSet, proposer: ValidatorIndex?)? {
        guard height <= horizon else { return nil }
        return (validators(at: height), round.map { proposer(height: height, round: $0) })
    }

    /// The proposer of `round` at `height`.
    func proposer(height: Height, round: Round) -> ValidatorIndex {
        let from = schedule.sets.last { $0.from <= height }?.from ?? Height(1)
        return ValidatorSet.proposer(in: cycles[from] ?? validators(at: height).proposerCycle, height: height, round: round)
    }

    /// Block `height` was executed: the horizon moves to `height + 2`, and `decided`, if the
    /// block wrote a set other than the one already due, governs from there (replacing any set a
    /// joining node learnt for later heights: executing the chain is what decides). Returns
    /// whether the set changes.
    mutating func executed(_ height: Height, deciding decided: ValidatorSet?) -> Bool {
        horizon = Height(height.rawValue + ValidatorSchedule.activationDelay)
        guard let decided, decided != schedule.validators(at: horizon) else { return false }
        schedule.schedule(decided, decidedAt: height)
        // Whatever was learnt for these heights before is replaced, its proof with it.
        handovers = handovers.filter { $0.key < horizon }
        cycles[horizon] = decided.proposerCycle
        return true
    }

    /// Whether the set governing from `from` still waits for its handover.
    func awaitsHandover(from: Height) -> Bool {
        from.rawValue > 1 && handovers[from] == nil && schedule.sets.contains { $0.from == from }
    }

    mutating func record(_ handover: ValidatorHandover, from: Height) { handovers[from] = handover }

    /// The handovers in height order: what a verifier holding the genesis file follows.
    var orderedHandovers: [ValidatorHandover] { handovers.keys.sorted().compactMap { handovers[$0] } }
}
