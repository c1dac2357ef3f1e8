public import TamgaCore

extension TreeNode: BinaryCodable {
    /// `u8 kind 1 ‖ key hash ‖ u32 length ‖ value` for a leaf;
    /// `u8 kind 2 ‖ u8 sides (bit 0 left, bit 1 right) ‖ each present side: hash ‖ u64 version ‖ u8 is-leaf` for an inner node.
    public func encode(to writer: inout ByteWriter) {
        switch self {
        case let .leaf(keyHash, value):
            writer.write(UInt8(1))
            writer.write(keyHash)
            writer.writeLengthPrefixed(value)
        case let .inner(left, right):
            writer.write(UInt8(2))
            writer.write(UInt8((left == nil ? 0 : 1) | (right == nil ? 0 : 2)))
            for child in [left, right].compactMap({ $0 }) { child.encode(to: &writer) }
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        switch try reader.readUInt8("node kind") {
        case 1:
            self = .leaf(keyHash: try reader.readHash("key hash"), value: try reader.readLengthPrefixed("value", limit: Limits.stateValueBytesMax))
        case 2:
            let sides = try reader.readUInt8("sides")
            guard sides & ~3 == 0 else { throw .invalidValue(field: "sides", reason: "unknown bits \(sides)") }
            let left = sides & 1 != 0 ? try ChildReference(from: &reader) : nil
            let right = sides & 2 != 0 ? try ChildReference(from: &reader) : nil
            self = .inner(left: left, right: right)
        case let kind:
            throw .invalidValue(field: "node kind", reason: "unknown kind \(kind)")
        }
    }
}

extension ChildReference: BinaryCodable {
    /// `hash ‖ u64 version ‖ u8 is-leaf`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(hash)
        writer.write(version)
        writer.write(isLeaf)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        self.init(hash: try reader.readHash("hash"), version: try reader.readUInt64("version"), isLeaf: try reader.readBool("is leaf"))
    }
}
