/// A proposer's announcement of the block it proposes for a round.
public struct Proposal: Hashable, Sendable {
    public var chainID: ChainID
    public var height: Height
    public var round: Round
    /// The round of the polka that justifies re-proposing a locked or valid block; nil for a fresh one.
    public var proofOfLockRound: Round?
    public var blockHash: Hash
    public var timestamp: Timestamp
    public var proposer: ValidatorIndex

    public init(
        chainID: ChainID, height: Height, round: Round, proofOfLockRound: Round?, blockHash: Hash,
        timestamp: Timestamp, proposer: ValidatorIndex
    ) {
        self.chainID = chainID
        self.height = height
        self.round = round
        self.proofOfLockRound = proofOfLockRound
        self.blockHash = blockHash
        self.timestamp = timestamp
        self.proposer = proposer
    }

    /// The bytes the proposer signs: `0x06 ‖ encoding`.
    public var signBytes: [UInt8] { [HashDomain.proposal.rawValue] + encoded() }

    public func signed(with key: SigningKey) -> SignedProposal {
        SignedProposal(proposal: self, signature: key.sign(signBytes))
    }
}

extension Proposal: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.writeShortString(chainID.rawValue)
        writer.write(height.rawValue)
        writer.write(round.rawValue)
        if let proofOfLockRound {
            writer.write(UInt8(1))
            writer.write(proofOfLockRound.rawValue)
        } else {
            writer.write(UInt8(0))
        }
        writer.write(blockHash)
        writer.write(timestamp.rawValue)
        writer.write(proposer.rawValue)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        chainID = try reader.readChainID()
        height = Height(try reader.readUInt64("height"))
        round = Round(try reader.readUInt32("round"))
        proofOfLockRound = try reader.readBool("proof-of-lock round") ? Round(try reader.readUInt32("proof-of-lock round")) : nil
        if let proofOfLockRound, proofOfLockRound >= round {
            throw .invalidValue(field: "proof-of-lock round", reason: "must be earlier than the round \(round)")
        }
        blockHash = try reader.readHash("block hash")
        timestamp = Timestamp(rawValue: try reader.readUInt64("timestamp"))
        proposer = ValidatorIndex(try reader.readUInt16("proposer"))
    }
}

/// A proposal with the proposer's signature over `proposal.signBytes`.
public struct SignedProposal: Hashable, Sendable {
    public let proposal: Proposal
    public let signature: Signature

    public init(proposal: Proposal, signature: Signature) {
        self.proposal = proposal
        self.signature = signature
    }

    /// Whether the signature is valid for the validator at `proposal.proposer` in `validators`.
    public func isValid(in validators: ValidatorSet) -> Bool {
        guard let validator = validators[proposal.proposer] else { return false }
        return validator.publicKey.isValidSignature(signature, for: proposal.signBytes)
    }
}

extension SignedProposal: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        proposal.encode(to: &writer)
        writer.writeFixed(signature.bytes)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        proposal = try Proposal(from: &reader)
        signature = try reader.readSignature("signature")
    }
}
