/// A block height: 1 for the first block after genesis.
public struct Height: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// The height after this one; traps on overflow.
    public var next: Height { Height(rawValue + 1) }
    public static func < (lhs: Height, rhs: Height) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// A consensus round within a height, starting at 0.
public struct Round: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    /// The round after this one; traps on overflow.
    public var next: Round { Round(rawValue + 1) }
    public static func < (lhs: Round, rhs: Round) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// The position of a validator in the validator set of a height.
public struct ValidatorIndex: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    public static func < (lhs: ValidatorIndex, rhs: ValidatorIndex) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// A moment as milliseconds since 1970-01-01T00:00:00Z. In the ledger and consensus it is always a
/// value agreed by the validators (block time), never a reading of a local clock.
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(millisecondsSinceEpoch: UInt64) { self.rawValue = millisecondsSinceEpoch }
    public var millisecondsSinceEpoch: UInt64 { rawValue }
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "\(rawValue)ms" }
}

/// Why an identifier or measured quantity was refused.
public struct IdentifierError: CodedError, Equatable {
    /// The kind of identifier, such as `party_id` or `cadastral_number`.
    public let kind: String
    /// The refused text, truncated for display.
    public let text: String
    /// What rule it broke.
    public let reason: String

    public var code: String { "\(kind).invalid" }
    public var message: String { "\"\(text.prefix(80))\" is not a valid \(kind.replacingUnderscores): \(reason)" }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// The identifier of a chain, named in every transaction and every signed vote so that nothing
/// signed for one network can be replayed on another: 1 to 64 characters of `a-z`, `0-9`, `-`, `.`.
public struct ChainID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(IdentifierError) {
        let utf8 = Array(text.utf8)
        guard (1...Limits.chainIDBytesMax).contains(utf8.count) else {
            throw IdentifierError(kind: "chain_id", text: text, reason: "length must be 1 to \(Limits.chainIDBytesMax)")
        }
        guard utf8.allSatisfy({ $0.isLowercaseAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) else {
            throw IdentifierError(kind: "chain_id", text: text, reason: "only a-z, 0-9, '-' and '.' are allowed")
        }
        rawValue = text
    }

    public static func < (lhs: ChainID, rhs: ChainID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// The identifier of an enrolled party (a person, an organization, or an authority's office):
/// 3 to 64 characters of `a-z`, `0-9` and `-`, starting with a letter and not ending with `-`.
/// Chosen at enrollment; personal identity numbers are never used as party ids.
public struct PartyID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(IdentifierError) {
        let utf8 = Array(text.utf8)
        guard (3...Limits.partyIDBytesMax).contains(utf8.count) else {
            throw IdentifierError(kind: "party_id", text: text, reason: "length must be 3 to \(Limits.partyIDBytesMax)")
        }
        guard utf8.allSatisfy({ $0.isLowercaseAlphanumeric || $0 == UInt8(ascii: "-") }) else {
            throw IdentifierError(kind: "party_id", text: text, reason: "only a-z, 0-9 and '-' are allowed")
        }
        guard utf8[0].isLowercaseLetter, utf8[utf8.count - 1] != UInt8(ascii: "-") else {
            throw IdentifierError(kind: "party_id", text: text, reason: "must start with a letter and not end with '-'")
        }
        rawValue = text
    }

    public static func < (lhs: PartyID, rhs: PartyID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// The cadastral number of a land plot or of a unit in a building, in the national format:
/// region (2 digits), district (3), quarter (3) and plot (1 to 6 digits), separated by `-`, with an
/// optional unit number after `:`, for example `21-320-113-125` or `01-011-001-123:45`.
public struct CadastralNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(IdentifierError) {
        let utf8 = Array(text.utf8)
        guard utf8.count <= Limits.cadastralNumberBytesMax, CadastralNumber.isWellFormed(utf8) else {
            throw IdentifierError(
                kind: "cadastral_number", text: text,
                reason: "expected RR-DDD-QQQ-P with 2, 3, 3 and 1 to 6 digits, optionally followed by :U with 1 to 6 digits"
            )
        }
        rawValue = text
    }

    private static func isWellFormed(_ utf8: [UInt8]) -> Bool {
        var groups: [Int] = []
        var unitDigits: Int?
        var current = 0
        for character in utf8 {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current += 1
            case UInt8(ascii: "-") where unitDigits == nil:
                groups.append(current)
                current = 0
            case UInt8(ascii: ":") where unitDigits == nil && groups.count == 3:
                groups.append(current)
                current = 0
                unitDigits = 0
            default:
                return false
            }
        }
        if unitDigits == nil { groups.append(current) } else { unitDigits = current }
        guard groups.count == 4, groups[0] == 2, groups[1] == 3, groups[2] == 3, (1...6).contains(groups[3]) else {
            return false
        }
        return unitDigits.map { (1...6).contains($0) } ?? true
    }

    public static func < (lhs: CadastralNumber, rhs: CadastralNumber) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

extension UInt8 {
    var isLowercaseLetter: Bool { self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z") }
    var isLowercaseAlphanumeric: Bool { isLowercaseLetter || (self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9")) }
}

/// Identifiers that are text on the wire and in JSON, validated on decoding.
protocol ValidatedText: Codable {
    var rawValue: String { get }
    init(_ text: String) throws(IdentifierError)
}

extension ValidatedText {
    public init(from decoder: any Decoder) throws {
        try self.init(decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension ChainID: ValidatedText {}
extension PartyID: ValidatedText {}
extension CadastralNumber: ValidatedText {}
