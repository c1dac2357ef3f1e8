/// The header of a block: everything a light client needs to follow the chain and check proofs.
///
/// Its hash, `H(0x04 ‖ encoding)`, is the block hash that votes name.
public struct BlockHeader: Hashable, Sendable {
    /// The layout version; 1 is the only one.
    public static let currentVersion: UInt16 = 1

    public var version: UInt16 = BlockHeader.currentVersion
    public var chainID: ChainID
    public var height: Height
    /// Block time: the weighted median of the previous commit's precommit timestamps.
    public var time: Timestamp
    /// The hash of the previous block's header; zero for height 1.
    public var previousBlockHash: Hash
    /// The hash of the commit that finalized the previous block; zero for height 1.
    public var lastCommitHash: Hash
    /// The RFC 6962 Merkle root of the block's transaction entry hashes.
    public var transactionsRoot: Hash
    /// The Merkle root of the evidence in the block.
    public var evidenceRoot: Hash
    /// The state root after executing the previous block (the genesis state for height 1).
    public var stateRoot: Hash
    /// The hash of the validator set that must sign this block's commit.
    public var validatorSetHash: Hash
    /// The validator that proposed the block.
    public var proposer: ValidatorIndex

    public init(
        chainID: ChainID, height: Height, time: Timestamp, previousBlockHash: Hash, lastCommitHash: Hash,
        transactionsRoot: Hash, evidenceRoot: Hash, stateRoot: Hash, validatorSetHash: Hash, proposer: ValidatorIndex
    ) {
        self.chainID = chainID
        self.height = height
        self.time = time
        self.previousBlockHash = previousBlockHash
        self.lastCommitHash = lastCommitHash
        self.transactionsRoot = transactionsRoot
        self.evidenceRoot = evidenceRoot
        self.stateRoot = stateRoot
        self.validatorSetHash = validatorSetHash
        self.proposer = proposer
    }

    /// The block hash.
    public var hash: Hash { .tagged(.header, encoded()) }
}

extension BlockHeader: BinaryCodable {
    public func encode(to writer: inout ByteWriter) {
        writer.write(version)
        writer.writeShortString(chainID.rawValue)
        writer.write(height.rawValue)
        writer.write(time.rawValue)
        writer.write(previousBlockHash)
        writer.write(lastCommitHash)
        writer.write(transactionsRoot)
        writer.write(evidenceRoot)
        writer.write(stateRoot)
        writer.write(validatorSetHash)
        writer.write(proposer.rawValue)
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        version = try reader.readUInt16("version")
        guard version == BlockHeader.currentVersion else {
            throw .invalidValue(field: "version", reason: "unsupported header version \(version)")
        }
        chainID = try reader.readChainID()
        height = Height(try reader.readUInt64("height"))
        time = Timestamp(rawValue: try reader.readUInt64("time"))
        previousBlockHash = try reader.readHash("previous block hash")
        lastCommitHash = try reader.readHash("last commit hash")
        transactionsRoot = try reader.readHash("transactions root")
        evidenceRoot = try reader.readHash("evidence root")
        stateRoot = try reader.readHash("state root")
        validatorSetHash = try reader.readHash("validator set hash")
        proposer = ValidatorIndex(try reader.readUInt16("proposer"))
    }
}

extension ByteReader {
    /// Reads a length-prefixed chain id and validates it.
    mutating func readChainID() throws(CodecError) -> ChainID {
        let text = try readShortString("chain id", limit: Limits.chainIDBytesMax)
        do {
            return try ChainID(text)
        } catch {
            throw .invalidValue(field: "chain id", reason: error.reason)
        }
    }

    /// Reads a 64-byte signature.
    mutating func readSignature(_ field: String) throws(CodecError) -> Signature {
        guard let signature = try? Signature(bytes: readFixed(64, field)) else {
            throw .truncated(field: field, needed: 64, remaining: remaining)
        }
        return signature
    }
}
