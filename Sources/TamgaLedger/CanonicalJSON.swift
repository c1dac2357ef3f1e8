/// The canonical JSON every ledger record is stored in, written by the project rather than by a
/// library, so that the bytes under the state root depend on nothing but this file and the
/// record types (`docs/encoding.md`, "Records", with vectors from `scripts/record_vectors.py`):
///
/// - an object's members sorted by the UTF-8 bytes of their names, `{"a":1,"b":2}`, absent
///   optionals left out; arrays in their order, `[1,2]`; no space anywhere;
/// - integers in decimal, `-` for negatives, no leading zeros; `true`, `false`, `null`;
/// - strings in UTF-8 between quotes, escaping only `"` as `\"`, `\` as `\\`, U+0008 `\b`,
///   U+000C `\f`, U+000A `\n`, U+000D `\r`, U+0009 `\t`, and other characters below U+0020 as
///   `\u00xx` (lower-case hex); everything else as it is.
///
/// No record holds a floating-point number; encoding one is a programming error.
enum CanonicalJSON {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let root = Slot()
        try value.encode(to: CanonicalEncoder(slot: root, codingPath: []))
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(root.value, to: &out)
        return out
    }

    static func write(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case let .bool(flag): out += Array((flag ? "true" : "false").utf8)
        case let .number(text): out += Array(text.utf8)
        case let .string(text): writeString(text, to: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item.value, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.map { (Array($0.key.utf8), $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
            for (index, (name, slot)) in sorted.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(String(decoding: name, as: UTF8.self), to: &out)
                out.append(UInt8(ascii: ":"))
                write(slot.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    indirect enum Value {
        case null, bool(Bool), number(String), string(String), array([Slot]), object([String: Slot])
    }

    /// A place a value is written into; containers hold their children's slots.
    final class Slot {
        var value: Value = .null
    }
}

private struct CanonicalEncoder: Encoder {
    let slot: CanonicalJSON.Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = slot.value {} else { slot.value = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = slot.value {} else { slot.value = .array([]) }
        return UnkeyedContainer(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleContainer(slot: slot, codingPath: codingPath) }
}

/// Writes a scalar or a nested value into a slot.
private func put(_ value: some Encodable, into slot: CanonicalJSON.Slot, path: [any CodingKey]) throws {
    switch value {
    case let text as String: slot.value = .string(text)
    case let flag as Bool: slot.value = .bool(flag)
    case let number as UInt64: slot.value = .number(String(number))
    case let number as Int: slot.value = .number(String(number))
    case let number as Int64: slot.value = .number(String(number))
    case let number as Int32: slot.value = .number(String(number))
    case let number as UInt32: slot.value = .number(String(number))
    case let number as UInt16: slot.value = .number(String(number))
    case let number as UInt8: slot.value = .number(String(number))
    case let number as Int16: slot.value = .number(String(number))
    case let number as Int8: slot.value = .number(String(number))
    case let number as UInt: slot.value = .number(String(number))
    case is Double, is Float: preconditionFailure("ledger records hold no floating-point numbers")
    default: try value.encode(to: CanonicalEncoder(slot: slot, codingPath: path))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: CanonicalJSON.Slot
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> CanonicalJSON.Slot { child(named: key.stringValue) }

    private func child(named name: String) -> CanonicalJSON.Slot {
        let child = CanonicalJSON.Slot()
        guard case var .object(members) = slot.value else { preconditionFailure("a keyed container writes an object") }
        members[name] = child
        slot.value = .object(members)
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).value = .null }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try put(value, into: child(key), path: codingPath + [key]) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        CanonicalEncoder(slot: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        CanonicalEncoder(slot: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { CanonicalEncoder(slot: child(named: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { CanonicalEncoder(slot: child(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let slot: CanonicalJSON.Slot
    let codingPath: [any CodingKey]

    var count: Int {
        guard case let .array(items) = slot.value else { return 0 }
        return items.count
    }

    private func next() -> CanonicalJSON.Slot {
        let child = CanonicalJSON.Slot()
        guard case var .array(items) = slot.value else { preconditionFailure("an unkeyed container writes an array") }
        items.append(child)
        slot.value = .array(items)
        return child
    }

    mutating func encodeNil() throws { next().value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try put(value, into: next(), path: codingPath) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        CanonicalEncoder(slot: next(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { CanonicalEncoder(slot: next(), codingPath: codingPath).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { CanonicalEncoder(slot: next(), codingPath: codingPath) }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let slot: CanonicalJSON.Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try put(value, into: slot, path: codingPath) }
}
