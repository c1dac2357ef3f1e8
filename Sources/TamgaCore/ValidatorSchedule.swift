/// Which validator set signs which height.
///
/// A change the ledger decides in the block at height H takes effect at height H + 2: the block
/// at H + 1 is already being agreed by the old set when H is executed, and every validator must
/// know the set of a height before that height starts. Block validation checks the header's
/// validator-set hash against this schedule, and the commit of a block against the set of its height.
public struct ValidatorSchedule: Hashable, Sendable {
    /// Heights between the block that decides a change and the first height it governs.
    public static let activationDelay: UInt64 = 2

    /// (first height, set), sorted by height; the first entry starts at height 1.
    public private(set) var sets: [(from: Height, validators: ValidatorSet)]

    public init(genesis: ValidatorSet) { sets = [(Height(1), genesis)] }

    /// Records a set decided in the block at `height`; it governs from `height + 2` on. It replaces
    /// whatever was scheduled from that height on (what executing the chain decides overrides what
    /// was learnt before); the genesis set stays. `height` must be below `UInt64.max - 2`.
    public mutating func schedule(_ validators: ValidatorSet, decidedAt height: Height) {
        let from = Height(height.rawValue + Self.activationDelay)
        sets.removeAll { $0.from >= from && $0.from > Height(1) }
        sets.append((from, validators))
    }

    /// The set that signs `height`.
    public func validators(at height: Height) -> ValidatorSet {
        sets.last { $0.from <= height }?.validators ?? sets[0].validators
    }

    public static func == (lhs: ValidatorSchedule, rhs: ValidatorSchedule) -> Bool {
        lhs.sets.map(\.from) == rhs.sets.map(\.from) && lhs.sets.map(\.validators) == rhs.sets.map(\.validators)
    }

    public func hash(into hasher: inout Hasher) {
        for entry in sets {
            hasher.combine(entry.from)
            hasher.combine(entry.validators)
        }
    }
}
