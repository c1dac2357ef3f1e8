public import TamgaCore

/// Arithmetic on values that come from payloads or from state those payloads wrote. None of it
/// may trap: a trap inside a decided block would stop every validator, and again after every
/// restart. Each operation either gives the exact result or a rejection with `ledger.overflow`.
extension Tiyn {
    func plus(_ other: Tiyn) throws(Rejection) -> Tiyn {
        guard let sum = adding(other) else { throw Rejection(.arithmeticOverflow, "an amount would exceed the largest amount the ledger holds") }
        return sum
    }

    func minus(_ other: Tiyn) throws(Rejection) -> Tiyn {
        guard let difference = subtracting(other) else { throw Rejection(.arithmeticOverflow, "an amount would fall below zero") }
        return difference
    }

    /// `self × part / whole`, rounded down, for `part ≤ whole`.
    ///
    /// `part/whole = p/w` over the least common denominator `L` of the two. When `L` fits in 64
    /// bits (it does for every share and sum the ledger makes from one property's owners, except
    /// sellers' shares whose combined denominator passes 64 bits), `self × p` fits in 128 bits and
    /// `self × p / w ≤ self` is exact; otherwise the result is `ledger.overflow`, never a trap.
    public func proRata(part: Share, of whole: Share) throws(Rejection) -> Tiyn {
        guard !whole.isZero, !(whole < part) else { throw Rejection(.arithmeticOverflow, "a part of \(part) of \(whole) is not a part") }
        let divisor = Self.gcd(part.denominator, whole.denominator)
        let (common, overflow) = (part.denominator / divisor).multipliedReportingOverflow(by: whole.denominator)
        guard !overflow else { throw Rejection(.arithmeticOverflow, "the shares \(part) and \(whole) have no common denominator in 64 bits") }
        let (p, pOverflow) = part.numerator.multipliedReportingOverflow(by: common / part.denominator)
        let (w, wOverflow) = whole.numerator.multipliedReportingOverflow(by: common / whole.denominator)
        guard !pOverflow, !wOverflow, p <= w, w > 0 else { throw Rejection(.arithmeticOverflow, "the shares \(part) and \(whole) do not scale in 64 bits") }
        return Tiyn(w.dividingFullWidth(rawValue.multipliedFullWidth(by: p)).quotient)
    }

    private static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x
    }
}

extension Timestamp {
    /// This time plus `millis`, or a rejection if it would pass the largest time the ledger holds.
    func adding(millis: UInt64) throws(Rejection) -> Timestamp {
        let (sum, overflow) = rawValue.addingReportingOverflow(millis)
        guard !overflow else { throw Rejection(.arithmeticOverflow, "a time would pass the largest time the ledger holds") }
        return Timestamp(millisecondsSinceEpoch: sum)
    }
}

extension Share {
    /// The exact sum, or `property.invalid_shares` (a share above 1 or a denominator past the limit).
    func plus(_ other: Share) throws(Rejection) -> Share {
        do {
            return try adding(other)
        } catch {
            throw Rejection(.invalidShares, error.message)
        }
    }
}
