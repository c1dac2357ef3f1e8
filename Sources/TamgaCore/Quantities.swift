/// An amount of the tenge-pegged token in tiyn (1/100 tenge).
///
/// `+` and `-` trap on overflow and underflow, as the ledger must never wrap money; code that
/// handles untrusted amounts uses `adding(_:)` and `subtracting(_:)`, which return nil instead.
public struct Tiyn: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static let zero = Tiyn(0)

    public static func + (lhs: Tiyn, rhs: Tiyn) -> Tiyn { Tiyn(lhs.rawValue + rhs.rawValue) }
    public static func - (lhs: Tiyn, rhs: Tiyn) -> Tiyn { Tiyn(lhs.rawValue - rhs.rawValue) }
    public static func += (lhs: inout Tiyn, rhs: Tiyn) { lhs = lhs + rhs }
    public static func -= (lhs: inout Tiyn, rhs: Tiyn) { lhs = lhs - rhs }
    public static func < (lhs: Tiyn, rhs: Tiyn) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The sum, or nil if it would overflow.
    public func adding(_ other: Tiyn) -> Tiyn? {
        let (sum, overflow) = rawValue.addingReportingOverflow(other.rawValue)
        return overflow ? nil : Tiyn(sum)
    }

    /// The difference, or nil if `other` is larger.
    public func subtracting(_ other: Tiyn) -> Tiyn? {
        let (difference, overflow) = rawValue.subtractingReportingOverflow(other.rawValue)
        return overflow ? nil : Tiyn(difference)
    }

    /// `self × share`, rounded down to a whole tiyn; exact for every amount and share.
    public func multiplied(by share: Share) -> Tiyn {
        let product = rawValue.multipliedFullWidth(by: share.numerator)
        // numerator ≤ denominator, so the quotient fits in 64 bits.
        return Tiyn(share.denominator.dividingFullWidth(product).quotient)
    }

    /// "1234.56 KZT".
    public var description: String {
        let cents = rawValue % 100
        return "\(rawValue / 100).\(cents < 10 ? "0" : "")\(cents) KZT"
    }
}

/// An exact fraction of ownership in [0, 1], always reduced to lowest terms.
///
/// Ownership shares of a property must sum to exactly 1: no floating point, no rounding. The
/// denominator is bounded by `Limits.shareDenominatorMax` so that sums stay exact in 64 bits.
public struct Share: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let numerator: UInt64
    public let denominator: UInt64

    /// The whole property.
    public static let whole = Share(reduced: 1, 1)
    /// Nothing.
    public static let none = Share(reduced: 0, 1)

    private init(reduced numerator: UInt64, _ denominator: UInt64) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// Creates `numerator/denominator` in lowest terms.
    public init(_ numerator: UInt64, _ denominator: UInt64) throws(ShareError) {
        guard denominator > 0 else { throw .zeroDenominator }
        guard numerator <= denominator else { throw .greaterThanWhole }
        let divisor = gcd(numerator, denominator)
        let reducedDenominator = denominator / divisor
        guard reducedDenominator <= Limits.shareDenominatorMax else { throw .denominatorTooLarge }
        self.init(reduced: numerator / divisor, reducedDenominator)
    }

    /// Parses "n/d", or "1" for the whole property.
    public init(parsing text: String) throws(ShareError) {
        if text == "1" {
            self = .whole
            return
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
              let numerator = UInt64(parts[0]), let denominator = UInt64(parts[1])
        else { throw .malformed }
        try self.init(numerator, denominator)
    }

    public var isZero: Bool { numerator == 0 }
    public var isWhole: Bool { numerator == denominator }

    /// The exact sum; fails if it exceeds 1 or needs a denominator above the limit.
    public func adding(_ other: Share) throws(ShareError) -> Share {
        let (left, right, common) = try commonDenominator(with: other)
        let (sum, overflow) = left.addingReportingOverflow(right)
        guard !overflow else { throw .denominatorTooLarge }
        return try Share(sum, common)
    }

    /// The exact difference; fails if `other` is larger.
    public func subtracting(_ other: Share) throws(ShareError) -> Share {
        let (left, right, common) = try commonDenominator(with: other)
        guard right <= left else { throw .negative }
        return try Share(left - right, common)
    }

    /// Whether the shares add up to exactly one whole.
    public static func sumIsWhole(_ shares: some Sequence<Share>) -> Bool {
        var total = Share.none
        for share in shares {
            guard let next = try? total.adding(share) else { return false }
            total = next
        }
        return total.isWhole
    }

    private func commonDenominator(with other: Share) throws(ShareError) -> (UInt64, UInt64, UInt64) {
        let divisor = gcd(denominator, other.denominator)
        let (common, overflow) = (denominator / divisor).multipliedReportingOverflow(by: other.denominator)
        guard !overflow, common <= Limits.shareDenominatorMax else { throw .denominatorTooLarge }
        // Both scaled numerators are ≤ common, so they fit.
        return (numerator * (common / denominator), other.numerator * (common / other.denominator), common)
    }

    public static func < (lhs: Share, rhs: Share) -> Bool {
        // Cross-multiplication in 128 bits is exact.
        let left = lhs.numerator.multipliedFullWidth(by: rhs.denominator)
        let right = rhs.numerator.multipliedFullWidth(by: lhs.denominator)
        return (left.high, left.low) < (right.high, right.low)
    }

    /// "n/d", or "1" for the whole.
    public var description: String { isWhole ? "1" : "\(numerator)/\(denominator)" }
}

extension Share: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a share was refused.
public enum ShareError: CodedError, Equatable {
    case zeroDenominator, greaterThanWhole, negative, denominatorTooLarge, malformed

    public var code: String {
        switch self {
        case .zeroDenominator: "share.zero_denominator"
        case .greaterThanWhole: "share.greater_than_whole"
        case .negative: "share.negative"
        case .denominatorTooLarge: "share.denominator_too_large"
        case .malformed: "share.malformed"
        }
    }

    public var message: String {
        switch self {
        case .zeroDenominator: "a share's denominator must not be zero"
        case .greaterThanWhole: "a share cannot exceed the whole property"
        case .negative: "the result would be a negative share"
        case .denominatorTooLarge: "the share needs a denominator above \(Limits.shareDenominatorMax)"
        case .malformed: "a share is written n/d with decimal digits, or 1"
        }
    }
}

private func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}

/// An area in hundredths of a square metre (1 m² = 100).
public struct AreaHundredths: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: AreaHundredths, rhs: AreaHundredths) -> Bool { lhs.rawValue < rhs.rawValue }
    /// "84.50 m²".
    public var description: String {
        let fraction = rawValue % 100
        return "\(rawValue / 100).\(fraction < 10 ? "0" : "")\(fraction) m²"
    }
}

/// A point on the WGS 84 ellipsoid in integer micro-degrees (1/1,000,000 of a degree, about 11 cm).
public struct Coordinate: Hashable, Sendable, Codable {
    /// -90,000,000 ... 90,000,000.
    public let latitudeMicrodegrees: Int32
    /// -180,000,000 ... 180,000,000.
    public let longitudeMicrodegrees: Int32

    public init(latitudeMicrodegrees: Int32, longitudeMicrodegrees: Int32) throws(IdentifierError) {
        guard (-90_000_000...90_000_000).contains(latitudeMicrodegrees) else {
            throw IdentifierError(kind: "coordinate", text: "\(latitudeMicrodegrees)", reason: "latitude must be within ±90,000,000 micro-degrees")
        }
        guard (-180_000_000...180_000_000).contains(longitudeMicrodegrees) else {
            throw IdentifierError(kind: "coordinate", text: "\(longitudeMicrodegrees)", reason: "longitude must be within ±180,000,000 micro-degrees")
        }
        self.latitudeMicrodegrees = latitudeMicrodegrees
        self.longitudeMicrodegrees = longitudeMicrodegrees
    }

    public enum CodingKeys: String, CodingKey, CaseIterable { case latitudeMicrodegrees, longitudeMicrodegrees }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            latitudeMicrodegrees: container.decode(Int32.self, forKey: .latitudeMicrodegrees),
            longitudeMicrodegrees: container.decode(Int32.self, forKey: .longitudeMicrodegrees)
        )
    }
}
