/// Why bytes could not be decoded. Decoding is strict: every byte must be accounted for, every
/// length is bounded, and every enumerated value must be known.
public enum CodecError: CodedError, Equatable {
    /// The input ended `needed` bytes before the field being read.
    case truncated(field: String, needed: Int, remaining: Int)
    /// Bytes were left over after the value was complete.
    case trailingBytes(count: Int)
    /// A length prefix announced more than the field's limit.
    case lengthExceedsLimit(field: String, length: Int, limit: Int)
    /// A field held a value outside its domain (an unknown tag, a flag other than 0 or 1, …).
    case invalidValue(field: String, reason: String)

    public var code: String {
        switch self {
        case .truncated: "codec.truncated"
        case .trailingBytes: "codec.trailing_bytes"
        case .lengthExceedsLimit: "codec.length_exceeds_limit"
        case .invalidValue: "codec.invalid_value"
        }
    }

    public var message: String {
        switch self {
        case let .truncated(field, needed, remaining):
            "input ends inside \(field): \(needed) bytes needed, \(remaining) left"
        case let .trailingBytes(count):
            "\(count) unexpected bytes after the end of the value"
        case let .lengthExceedsLimit(field, length, limit):
            "\(field) is \(length) long, more than the limit of \(limit)"
        case let .invalidValue(field, reason):
            "\(field) is invalid: \(reason)"
        }
    }
}

/// A value with one fixed binary layout: big-endian integers, length-prefixed byte strings, no
/// optional padding. Everything consensus hashes or signs is `BinaryCodable`; docs/encoding.md
/// describes each layout byte by byte.
public protocol BinaryCodable {
    /// Appends the value's bytes.
    func encode(to writer: inout ByteWriter)
    /// Reads one value, consuming exactly its bytes.
    init(from reader: inout ByteReader) throws(CodecError)
}

extension BinaryCodable {
    /// The value's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        encode(to: &writer)
        return writer.bytes
    }

    /// Decodes a value that must span `bytes` exactly.
    public static func decode(_ bytes: [UInt8]) throws(CodecError) -> Self {
        var reader = ByteReader(bytes)
        let value = try Self(from: &reader)
        try reader.finish()
        return value
    }
}

/// Appends fixed-layout fields to a byte buffer.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt16) { appendBigEndian(value) }
    public mutating func write(_ value: UInt32) { appendBigEndian(value) }
    public mutating func write(_ value: UInt64) { appendBigEndian(value) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }
    public mutating func write(_ hash: Hash) { hash.withUnsafeBytes { bytes.append(contentsOf: $0) } }

    /// Appends bytes with no length prefix; the reader must know the length.
    public mutating func writeFixed(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }

    /// Appends a 4-byte big-endian length, then the bytes.
    public mutating func writeLengthPrefixed(_ data: [UInt8]) {
        precondition(data.count <= UInt32.max, "field longer than a 32-bit length")
        write(UInt32(data.count))
        bytes.append(contentsOf: data)
    }

    /// Appends a UTF-8 string with a 2-byte big-endian length.
    public mutating func writeShortString(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= UInt16.max, "string longer than a 16-bit length")
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var big = value.bigEndian
        Swift.withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }
}

/// Reads fixed-layout fields from a byte buffer, failing on truncation and on oversize lengths.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    /// The index of the next byte to read.
    public private(set) var offset: Int = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }

    public mutating func readUInt8(_ field: String) throws(CodecError) -> UInt8 {
        try readInteger(field)
    }

    public mutating func readUInt16(_ field: String) throws(CodecError) -> UInt16 {
        try readInteger(field)
    }

    public mutating func readUInt32(_ field: String) throws(CodecError) -> UInt32 {
        try readInteger(field)
    }

    public mutating func readUInt64(_ field: String) throws(CodecError) -> UInt64 {
        try readInteger(field)
    }

    /// Reads a flag byte that must be exactly 0 or 1.
    public mutating func readBool(_ field: String) throws(CodecError) -> Bool {
        switch try readUInt8(field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, reason: "flag byte \(other) is neither 0 nor 1")
        }
    }

    public mutating func readHash(_ field: String) throws(CodecError) -> Hash {
        try require(Hash.byteCount, field)
        let hash = bytes.withUnsafeBytes { Hash(raw: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + Hash.byteCount])) }
        offset += Hash.byteCount
        return hash
    }

    public mutating func readFixed(_ count: Int, _ field: String) throws(CodecError) -> [UInt8] {
        try require(count, field)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Reads a 4-byte length and that many bytes, refusing lengths above `limit` before reading them.
    public mutating func readLengthPrefixed(_ field: String, limit: Int) throws(CodecError) -> [UInt8] {
        let length = Int(try readUInt32(field))
        guard length <= limit else { throw .lengthExceedsLimit(field: field, length: length, limit: limit) }
        return try readFixed(length, field)
    }

    /// Reads a 2-byte length and that many bytes of UTF-8.
    public mutating func readShortString(_ field: String, limit: Int) throws(CodecError) -> String {
        let length = Int(try readUInt16(field))
        guard length <= limit else { throw .lengthExceedsLimit(field: field, length: length, limit: limit) }
        let utf8 = try readFixed(length, field)
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw .invalidValue(field: field, reason: "not valid UTF-8")
        }
        return text
    }

    /// Fails unless every byte has been read.
    public func finish() throws(CodecError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }

    private func require(_ count: Int, _ field: String) throws(CodecError) {
        guard count <= remaining else { throw .truncated(field: field, needed: count, remaining: remaining) }
    }

    private mutating func readInteger<T: FixedWidthInteger>(_ field: String) throws(CodecError) -> T {
        let size = MemoryLayout<T>.size
        try require(size, field)
        var value: T = 0
        for index in offset..<offset + size {
            value = value << 8 | T(bytes[index])
        }
        offset += size
        return value
    }
}
