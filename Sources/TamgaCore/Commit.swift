/// One validator's precommit inside a commit: the fields that differ between validators.
public struct CommitSignature: Hashable, Sendable {
    public let validator: ValidatorIndex
    public let timestamp: Timestamp
    public let signature: Signature

    public init(validator: ValidatorIndex, timestamp: Timestamp, signature: Signature) {
        self.validator = validator
        self.timestamp = timestamp
        self.signature = signature
    }
}

/// Why a commit does not prove that a block is final.
public enum CommitError: CodedError, Equatable {
    case wrongBlock(expected: Hash, actual: Hash)
    case wrongHeight(expected: Height, actual: Height)
    case unknownValidator(ValidatorIndex)
    case invalidSignature(ValidatorIndex)
    case insufficientPower(signed: UInt64, total: UInt64)

    public var code: String {
        switch self {
        case .wrongBlock: "commit.wrong_block"
        case .wrongHeight: "commit.wrong_height"
        case .unknownValidator: "commit.unknown_validator"
        case .invalidSignature: "commit.invalid_signature"
        case .insufficientPower: "commit.insufficient_power"
        }
    }

    public var message: String {
        switch self {
        case let .wrongBlock(expected, actual): "the commit is for block \(actual), not \(expected)"
        case let .wrongHeight(expected, actual): "the commit is for height \(actual), not \(expected)"
        case let .unknownValidator(index): "validator index \(index) is outside the validator set"
        case let .invalidSignature(index): "the precommit signature of validator \(index) is invalid"
        case let .insufficientPower(signed, total): "precommits carry \(signed) of \(total) voting power; more than two thirds are needed"
        }
    }
}

/// The precommits of more than two thirds of the voting power for one block in one round: the
/// proof that the block is final. Stored with the next block and served with extracts.
public struct Commit: Hashable, Sendable {
    public let height: Height
    public let round: Round
    public let blockHash: Hash
    /// Sorted by validator index, each index at most once.
    public let signatures: [CommitSignature]

    /// Creates a commit; the signatures are sorted by validator, and a repeated validator is a programming error.
    public init(height: Height, round: Round, blockHash: Hash, signatures: [CommitSignature]) {
        let sorted = signatures.sorted { $0.validator < $1.validator }
        precondition(zip(sorted, sorted.dropFirst()).allSatisfy { $0.validator < $1.validator }, "a validator signed a commit twice")
        self.height = height
        self.round = round
        self.blockHash = blockHash
        self.signatures = sorted
    }

    /// The precommit that `entry` signed, reconstructed so that its signature can be checked.
    public func precommit(for entry: CommitSignature, chainID: ChainID) -> Vote {
        Vote(kind: .precommit, chainID: chainID, height: height, round: round, blockHash: blockHash,
             timestamp: entry.timestamp, validator: entry.validator)
    }

    /// Checks that this commit finalizes `blockHash` at `height` under `validators`: every
    /// signature valid, and more than two thirds of the voting power signed.
    public func verify(blockHash expectedHash: Hash, height expectedHeight: Height, chainID: ChainID, validators: ValidatorSet) throws(CommitError) {
        guard height == expectedHeight else { throw .wrongHeight(expected: expectedHeight, actual: height) }
        guard blockHash == expectedHash else { throw .wrongBlock(expected: expectedHash, actual: blockHash) }
        var power: UInt64 = 0
        for entry in signatures {
            guard let validator = validators[entry.validator] else { throw .unknownValidator(entry.validator) }
            let vote = precommit(for: entry, chainID: chainID)
            guard validator.publicKey.isValidSignature(entry.signature, for: vote.signBytes) else {
                throw .invalidSignature(entry.validator)
            }
            power += validator.votingPower
        }
        guard validators.isQuorum(power) else { throw .insufficientPower(signed: power, total: validators.totalPower) }
    }

    /// `H(0x09 ‖ encoding)`, named by the next block's header.
    public var hash: Hash { .tagged(.commit, encoded()) }
}

extension Commit: BinaryCodable {
    /// `u64 height ‖ u32 round ‖ hash ‖ u16 count ‖ count × (u16 validator ‖ u64 timestamp ‖ signature[64])`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(height.rawValue)
        writer.write(round.rawValue)
        writer.write(blockHash)
        writer.write(UInt16(signatures.count))
        for entry in signatures {
            writer.write(entry.validator.rawValue)
            writer.write(entry.timestamp.rawValue)
            writer.writeFixed(entry.signature.bytes)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        height = Height(try reader.readUInt64("height"))
        round = Round(try reader.readUInt32("round"))
        blockHash = try reader.readHash("block hash")
        let count = Int(try reader.readUInt16("signature count"))
        guard count <= Limits.validatorsMax else {
            throw .lengthExceedsLimit(field: "commit signatures", length: count, limit: Limits.validatorsMax)
        }
        var signatures: [CommitSignature] = []
        for _ in 0..<count {
            let validator = ValidatorIndex(try reader.readUInt16("validator"))
            if let last = signatures.last, last.validator >= validator {
                throw .invalidValue(field: "commit signatures", reason: "validator indices must be strictly increasing")
            }
            let timestamp = Timestamp(rawValue: try reader.readUInt64("timestamp"))
            signatures.append(CommitSignature(validator: validator, timestamp: timestamp, signature: try reader.readSignature("signature")))
        }
        self.signatures = signatures
    }
}
