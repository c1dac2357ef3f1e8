public import TamgaCore

extension ValidatorSet {
    /// The proposer of (height, round): weighted round-robin over voting power.
    ///
    /// One cycle is the smooth weighted round-robin sequence over the voting powers divided by
    /// their greatest common divisor (each validator appears in proportion to its power, spread
    /// out rather than bunched); slot `(height + round) mod cycle` is chosen. It is a pure
    /// function of the set, so every validator computes the same proposer.
    public func proposer(height: Height, round: Round) -> ValidatorIndex {
        ValidatorSet.proposer(in: proposerCycle, height: height, round: round)
    }

    /// `proposer(height:round:)` from a cycle computed once (`proposerCycle`), for callers that
    /// ask for every message.
    public static func proposer(in cycle: [ValidatorIndex], height: Height, round: Round) -> ValidatorIndex {
        cycle[Int((height.rawValue &+ UInt64(round.rawValue)) % UInt64(cycle.count))]
    }

    /// One cycle of the smooth weighted round-robin, capped at 4,096 slots (beyond that, powers are
    /// scaled down proportionally, never to zero).
    public var proposerCycle: [ValidatorIndex] {
        let divisor = validators.map(\.votingPower).reduce(0, greatestCommonDivisor)
        var weights = validators.map { Int64($0.votingPower / divisor) }
        let cap: Int64 = 4_096
        let total = weights.reduce(0, +)
        if total > cap { weights = weights.map { max(1, $0 * cap / total) } }
        let cycle = weights.reduce(0, +)
        var current = [Int64](repeating: 0, count: weights.count)
        var sequence: [ValidatorIndex] = []
        sequence.reserveCapacity(Int(cycle))
        for _ in 0..<cycle {
            var best = 0
            for index in weights.indices {
                current[index] += weights[index]
                if current[index] > current[best] { best = index }
            }
            current[best] -= cycle
            sequence.append(ValidatorIndex(UInt16(best)))
        }
        return sequence
    }
}

private func greatestCommonDivisor(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
