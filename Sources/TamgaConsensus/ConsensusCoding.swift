public import TamgaCore

// Binary layouts of what nodes store and send: blocks, evidence and signing records. Like the
// headers and votes they contain, they are laid out byte by byte in docs/encoding.md.

extension Evidence: BinaryCodable {
    /// `first signed vote ‖ second signed vote`. Decoding checks only the layout; whether the two
    /// votes really conflict is checked with the block (`ChainTip.validate`).
    public func encode(to writer: inout ByteWriter) {
        first.encode(to: &writer)
        second.encode(to: &writer)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        first = try SignedVote(from: &reader)
        second = try SignedVote(from: &reader)
    }
}

extension Block: BinaryCodable {
    /// `header ‖ u32 count ‖ count × envelope ‖ u8 has-commit ‖ [commit] ‖ u16 count ‖ count × evidence`.
    public func encode(to writer: inout ByteWriter) {
        header.encode(to: &writer)
        writer.write(UInt32(transactions.count))
        for transaction in transactions { transaction.encode(to: &writer) }
        writer.write(lastCommit != nil)
        lastCommit?.encode(to: &writer)
        writer.write(UInt16(evidence.count))
        for item in evidence { item.encode(to: &writer) }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        header = try BlockHeader(from: &reader)
        let count = Int(try reader.readUInt32("transaction count"))
        guard count <= Limits.blockTransactionsMax else {
            throw .lengthExceedsLimit(field: "block transactions", length: count, limit: Limits.blockTransactionsMax)
        }
        var transactions: [SignedEnvelope] = []
        transactions.reserveCapacity(count)
        var bytes = 0
        for _ in 0..<count {
            let before = reader.remaining
            transactions.append(try SignedEnvelope(from: &reader))
            bytes += before - reader.remaining
            guard bytes <= Limits.blockTransactionBytesMax else {
                throw .lengthExceedsLimit(field: "block transaction bytes", length: bytes, limit: Limits.blockTransactionBytesMax)
            }
        }
        self.transactions = transactions
        lastCommit = try reader.readBool("has last commit") ? try Commit(from: &reader) : nil
        let evidenceCount = Int(try reader.readUInt16("evidence count"))
        guard evidenceCount <= Limits.blockEvidenceMax else {
            throw .lengthExceedsLimit(field: "block evidence", length: evidenceCount, limit: Limits.blockEvidenceMax)
        }
        var evidence: [Evidence] = []
        for _ in 0..<evidenceCount { evidence.append(try Evidence(from: &reader)) }
        self.evidence = evidence
    }
}

extension ConsensusMessage: BinaryCodable {
    /// `u8 kind (1 proposal, 2 vote) ‖ signed proposal | signed vote`.
    public func encode(to writer: inout ByteWriter) {
        switch self {
        case let .proposal(signed):
            writer.write(UInt8(1))
            signed.encode(to: &writer)
        case let .vote(signed):
            writer.write(UInt8(2))
            signed.encode(to: &writer)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        switch try reader.readUInt8("message kind") {
        case 1: self = .proposal(try SignedProposal(from: &reader))
        case 2: self = .vote(try SignedVote(from: &reader))
        case let kind: throw .invalidValue(field: "message kind", reason: "unknown kind \(kind)")
        }
    }
}

extension SigningRecord: BinaryCodable {
    /// `u64 height ‖ u32 round ‖ u8 step ‖ message ‖ u8 locked ‖ [u32 locked round ‖ hash locked value]`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(height.rawValue)
        writer.write(round.rawValue)
        writer.write(step.rawValue)
        message.encode(to: &writer)
        if let lockedRound, let lockedValue {
            writer.write(true)
            writer.write(lockedRound.rawValue)
            writer.write(lockedValue)
        } else {
            writer.write(false)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        height = Height(try reader.readUInt64("height"))
        round = Round(try reader.readUInt32("round"))
        let rawStep = try reader.readUInt8("step")
        guard let step = Step(rawValue: rawStep) else { throw .invalidValue(field: "step", reason: "unknown step \(rawStep)") }
        self.step = step
        message = try ConsensusMessage(from: &reader)
        if try reader.readBool("locked") {
            lockedRound = Round(try reader.readUInt32("locked round"))
            lockedValue = try reader.readHash("locked value")
        } else {
            lockedRound = nil
            lockedValue = nil
        }
    }
}
