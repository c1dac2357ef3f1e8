/// Finds a field name that appears twice in one JSON object, at any depth of a document.
///
/// JSON (RFC 8259) leaves repeated names to the parser: one library keeps the first value,
/// another the last. A payload that means different things to different readers cannot be
/// signed, so the ledger refuses it (`tx.duplicate_field`) before decoding. Names are compared
/// after their escapes are decoded, so `"amount"` and `"\u0061mount"` are the same name.
///
/// The scan never fails and never recurses: on bytes that are not JSON it returns what it found
/// so far, and the decoder refuses the document.
enum RepeatedNames {
    private enum Frame {
        case object(names: Set<String>, expectingName: Bool)
        case array
    }

    /// The first name repeated within one object, or nil.
    static func first(in bytes: [UInt8]) -> String? {
        var stack: [Frame] = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                guard let (text, end) = string(in: bytes, from: index) else { return nil }
                index = end
                if case .object(var names, true)? = stack.last {
                    guard names.insert(text).inserted else { return text }
                    stack[stack.count - 1] = .object(names: names, expectingName: false)
                }
                continue
            case UInt8(ascii: "{"):
                stack.append(.object(names: [], expectingName: true))
            case UInt8(ascii: "["):
                stack.append(.array)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard !stack.isEmpty else { return nil }
                stack.removeLast()
            case UInt8(ascii: ","):
                if case let .object(names, _)? = stack.last { stack[stack.count - 1] = .object(names: names, expectingName: true) }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// The string starting at the quote at `start`, with its escapes decoded, and the index after
    /// its closing quote; nil if it does not close.
    private static func string(in bytes: [UInt8], from start: Int) -> (String, Int)? {
        var index = start + 1
        var scalars = String.UnicodeScalarView()
        var plainFrom = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                if !escaped { return (String(decoding: bytes[plainFrom..<index], as: UTF8.self), index + 1) }
                scalars.append(contentsOf: String(decoding: bytes[plainFrom..<index], as: UTF8.self).unicodeScalars)
                return (String(scalars), index + 1)
            }
            guard byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            scalars.append(contentsOf: String(decoding: bytes[plainFrom..<index], as: UTF8.self).unicodeScalars)
            escaped = true
            guard index + 1 < bytes.count else { return nil }
            let kind = bytes[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                guard let unit = hex4(bytes, at: index) else { return nil }
                index += 4
                var value = UInt32(unit)
                if (0xD800..<0xDC00).contains(unit), index + 5 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                   let low = hex4(bytes, at: index + 2), (0xDC00..<0xE000).contains(low) {
                    value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    index += 6
                }
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default:
                // `\"`, `\\`, `\/` stand for themselves; anything else the decoder refuses.
                scalars.append(Unicode.Scalar(kind))
            }
            plainFrom = index
        }
        return nil
    }

    private static func hex4(_ bytes: [UInt8], at index: Int) -> UInt16? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt16 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }
}
