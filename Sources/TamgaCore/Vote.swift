/// The two kinds of vote in a round.
public enum VoteKind: UInt8, Hashable, Sendable, Codable {
    case prevote = 1
    case precommit = 2
}

/// A prevote or precommit for a block, or for nothing (`blockHash == nil`, a "nil vote").
public struct Vote: Hashable, Sendable {
    public var kind: VoteKind
    public var chainID: ChainID
    public var height: Height
    public var round: Round
    /// The block voted for; nil votes for no block in this round.
    public var blockHash: Hash?
    /// The voter's clock when it voted; precommit timestamps determine the next block's time.
    public var timestamp: Timestamp
    public var validator: ValidatorIndex

    public init(
        kind: VoteKind, chainID: ChainID, height: Height, round: Round, blockHash: Hash?,
        timestamp: Timestamp, validator: ValidatorIndex
    ) {
        self.kind = kind
        self.chainID = chainID
        self.height = height
        self.round = round
        self.blockHash = blockHash
        self.timestamp = timestamp
        self.validator = validator
    }

    /// The bytes a validator signs: `0x05 ‖ encoding`.
    public var signBytes: [UInt8] { [HashDomain.vote.rawValue] + encoded() }

    /// Signs the vote.
    public func signed(with key: SigningKey) -> SignedVote {
        SignedVote(vote: self, signature: key.sign(signBytes))
    }
}

extension Vote: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(kind.rawValue)
        writer.writeShortString(chainID.rawValue)
        writer.write(height.rawValue)
        writer.write(round.rawValue)
        writer.writeOptional(blockHash)
        writer.write(timestamp.rawValue)
        writer.write(validator.rawValue)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let tag = try reader.readUInt8("vote kind")
        guard let kind = VoteKind(rawValue: tag) else { throw .invalidValue(field: "vote kind", reason: "unknown kind \(tag)") }
        self.kind = kind
        chainID = try reader.readChainID()
        height = Height(try reader.readUInt64("height"))
        round = Round(try reader.readUInt32("round"))
        blockHash = try reader.readOptionalHash("block hash")
        timestamp = Timestamp(rawValue: try reader.readUInt64("timestamp"))
        validator = ValidatorIndex(try reader.readUInt16("validator"))
    }
}

/// A vote with its validator's signature over `vote.signBytes`.
public struct SignedVote: Hashable, Sendable {
    public let vote: Vote
    public let signature: Signature

    public init(vote: Vote, signature: Signature) {
        self.vote = vote
        self.signature = signature
    }

    /// Whether the signature is valid for the validator at `vote.validator` in `validators`.
    public func isValid(in validators: ValidatorSet) -> Bool {
        guard let validator = validators[vote.validator] else { return false }
        return validator.publicKey.isValidSignature(signature, for: vote.signBytes)
    }
}

extension SignedVote: BinaryCodable {
    /// `vote ‖ signature[64]`.
    public func encode(to writer: inout ByteWriter) {
        vote.encode(to: &writer)
        writer.writeFixed(signature.bytes)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        vote = try Vote(from: &reader)
        signature = try reader.readSignature("signature")
    }
}

extension ByteWriter {
    /// `u8 0` for nil, or `u8 1 ‖ hash[32]`.
    mutating func writeOptional(_ hash: Hash?) {
        if let hash {
            write(UInt8(1))
            write(hash)
        } else {
            write(UInt8(0))
        }
    }
}

extension ByteReader {
    mutating func readOptionalHash(_ field: String) throws(CodecError) -> Hash? {
        try readBool(field) ? try readHash(field) : nil
    }
}
