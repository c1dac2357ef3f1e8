/// The field names of a payload's top-level object and of its `body` object, read straight from
/// the bytes. Decoding uses them to look for unknown fields instead of opening a second keyed
/// container on each object (which builds a dictionary of the object every time), so a payload
/// is refused for exactly the same unknown field, with the same message, either way.
///
/// Nil for anything but plain bytes: a field name holding an escape or a control character, a
/// name repeated in one object, more than `namesMax` names in one object (no payload type has
/// half as many; the bound keeps the search for repeats short), a `body` that is not an object,
/// or bytes that are not one JSON object. Decoding then looks through the decoder as before.
struct PayloadKeys: Sendable {
    let top: [String]
    let body: [String]

    static let namesMax = 32

    static let userInfoKey = CodingUserInfoKey(rawValue: "tamga.payloadKeys")!

    init?(_ bytes: [UInt8]) {
        var scanner = Scanner(bytes: bytes)
        var top: [String] = []
        var body: [String]?
        let complete = scanner.object { key, scanner in
            guard top.count < PayloadKeys.namesMax, !top.contains(key) else { return false }
            top.append(key)
            if key == "body" {
                guard scanner.peek == UInt8(ascii: "{") else { return false }
                var fields: [String] = []
                let read = scanner.object { field, scanner in
                    guard fields.count < PayloadKeys.namesMax, !fields.contains(field) else { return false }
                    fields.append(field)
                    return scanner.skipValue()
                }
                body = fields
                return read
            }
            return scanner.skipValue()
        }
        scanner.skipSpace()
        guard complete, scanner.atEnd, let body else { return nil }
        self.top = top
        self.body = body
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index == bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        /// Reads `{ "name": value, ... }`, calling `field` with the scanner at each value, which
        /// must consume it. False on any deviation.
        mutating func object(_ field: (String, inout Scanner) -> Bool) -> Bool {
            skipSpace()
            guard peek == UInt8(ascii: "{") else { return false }
            index += 1
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return true
            }
            while true {
                guard let name = plainName() else { return false }
                skipSpace()
                guard peek == UInt8(ascii: ":") else { return false }
                index += 1
                skipSpace()
                guard field(name, &self) else { return false }
                skipSpace()
                switch peek {
                case UInt8(ascii: ","):
                    index += 1
                    skipSpace()
                case UInt8(ascii: "}"):
                    index += 1
                    return true
                default:
                    return false
                }
            }
        }

        /// A quoted name without escapes or control characters.
        private mutating func plainName() -> String? {
            guard peek == UInt8(ascii: "\"") else { return nil }
            let start = index + 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                guard bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 else { return nil }
                end += 1
            }
            guard end < bytes.count else { return nil }
            index = end + 1
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        /// Steps over one value of any kind, stopping before the `,` or `}` that follows it:
        /// strings with their escapes, objects and arrays to their matching close (without
        /// recursion), numbers and literals to the next delimiter. Whether the value is well
        /// formed is the decoder's business: it has read the whole document before it asks.
        mutating func skipValue() -> Bool {
            var depth = 0
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    while let inner = peek, inner != UInt8(ascii: "\"") { index += inner == UInt8(ascii: "\\") ? 2 : 1 }
                    guard peek != nil else { return false }
                    index += 1
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    index += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    guard depth > 0 else { return true }
                    depth -= 1
                    index += 1
                case UInt8(ascii: ","):
                    guard depth > 0 else { return true }
                    index += 1
                default:
                    index += 1
                }
            }
            return false
        }
    }
}
