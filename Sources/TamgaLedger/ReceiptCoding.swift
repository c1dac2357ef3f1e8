public import TamgaCore

// Receipts are stored by every node for every transaction, so they use the fixed binary layout
// rather than JSON (docs/encoding.md, "Receipts").

extension LedgerEvent: BinaryCodable {
    /// `str16 kind ‖ u16 n ‖ n × str16 party ‖ u16 m ‖ m × str16 property ‖ flag ‖ [hash deed] ‖ flag ‖ [u64 amount]`.
    public func encode(to writer: inout ByteWriter) {
        writer.writeShortString(kind)
        writer.write(UInt16(parties.count))
        for party in parties { writer.writeShortString(party.rawValue) }
        writer.write(UInt16(properties.count))
        for property in properties { writer.writeShortString(property.rawValue) }
        writer.write(deed != nil)
        if let deed { writer.write(deed.hash) }
        writer.write(amount != nil)
        if let amount { writer.write(amount.rawValue) }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        kind = try reader.readShortString("event kind", limit: Int(UInt16.max))
        var parties: [PartyID] = []
        for _ in 0..<(try reader.readUInt16("party count")) {
            let text = try reader.readShortString("party", limit: Limits.partyIDBytesMax)
            guard let party = try? PartyID(text) else { throw .invalidValue(field: "party", reason: "not a party id") }
            parties.append(party)
        }
        var properties: [CadastralNumber] = []
        for _ in 0..<(try reader.readUInt16("property count")) {
            let text = try reader.readShortString("property", limit: Limits.cadastralNumberBytesMax)
            guard let number = try? CadastralNumber(text) else { throw .invalidValue(field: "property", reason: "not a cadastral number") }
            properties.append(number)
        }
        self.parties = parties
        self.properties = properties
        deed = try reader.readBool("has deed") ? TransactionID(hash: try reader.readHash("deed")) : nil
        amount = try reader.readBool("has amount") ? Tiyn(try reader.readUInt64("amount")) : nil
    }
}

extension Receipt: BinaryCodable {
    /// `hash transaction ‖ flag rejected ‖ [str16 code ‖ str16 message] ‖ u64 feePaid ‖ u16 n ‖ n × event`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(transaction.hash)
        if let rejectionCode {
            writer.write(true)
            writer.writeShortString(rejectionCode)
            writer.writeShortString(rejectionMessage ?? "")
        } else {
            writer.write(false)
        }
        writer.write(feePaid.rawValue)
        writer.write(UInt16(events.count))
        for event in events { event.encode(to: &writer) }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        transaction = TransactionID(hash: try reader.readHash("transaction"))
        if try reader.readBool("rejected") {
            rejectionCode = try reader.readShortString("rejection code", limit: Int(UInt16.max))
            rejectionMessage = try reader.readShortString("rejection message", limit: Int(UInt16.max))
        } else {
            rejectionCode = nil
            rejectionMessage = nil
        }
        feePaid = Tiyn(try reader.readUInt64("fee paid"))
        var events: [LedgerEvent] = []
        for _ in 0..<(try reader.readUInt16("event count")) { events.append(try LedgerEvent(from: &reader)) }
        self.events = events
    }
}
