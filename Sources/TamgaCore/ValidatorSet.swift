/// A validator: a public key and its voting power.
public struct Validator: Hashable, Sendable, Codable {
    public let publicKey: PublicKey
    public let votingPower: UInt64

    public init(publicKey: PublicKey, votingPower: UInt64) {
        self.publicKey = publicKey
        self.votingPower = votingPower
    }
}

/// Why a validator set was refused.
public enum ValidatorSetError: CodedError, Equatable {
    case empty, tooMany(Int), zeroPower(ValidatorIndex), duplicateKey(ValidatorIndex), totalPowerTooLarge

    public var code: String {
        switch self {
        case .empty: "validator_set.empty"
        case .tooMany: "validator_set.too_many"
        case .zeroPower: "validator_set.zero_power"
        case .duplicateKey: "validator_set.duplicate_key"
        case .totalPowerTooLarge: "validator_set.total_power_too_large"
        }
    }

    public var message: String {
        switch self {
        case .empty: "a validator set needs at least one validator"
        case let .tooMany(count): "\(count) validators, more than \(Limits.validatorsMax)"
        case let .zeroPower(index): "validator \(index) has no voting power"
        case let .duplicateKey(index): "validator \(index) repeats the key of an earlier validator"
        case .totalPowerTooLarge: "the total voting power must stay below 2^60 so that quorum arithmetic cannot overflow"
        }
    }
}

/// The ordered validators of a height. A validator's position is its `ValidatorIndex`.
public struct ValidatorSet: Hashable, Sendable {
    public let validators: [Validator]
    /// The sum of all voting power.
    public let totalPower: UInt64

    public init(_ validators: [Validator]) throws(ValidatorSetError) {
        guard !validators.isEmpty else { throw .empty }
        guard validators.count <= Limits.validatorsMax else { throw .tooMany(validators.count) }
        var keys: Set<PublicKey> = []
        var total: UInt64 = 0
        for (offset, validator) in validators.enumerated() {
            let index = ValidatorIndex(UInt16(offset))
            guard validator.votingPower > 0 else { throw .zeroPower(index) }
            guard keys.insert(validator.publicKey).inserted else { throw .duplicateKey(index) }
            guard validator.votingPower < 1 << 60, total + validator.votingPower < 1 << 60 else { throw .totalPowerTooLarge }
            total += validator.votingPower
        }
        self.validators = validators
        self.totalPower = total
    }

    public var count: Int { validators.count }

    /// The validator at `index`, or nil when the index is out of range (an untrusted index from a peer).
    public subscript(index: ValidatorIndex) -> Validator? {
        Int(index.rawValue) < validators.count ? validators[Int(index.rawValue)] : nil
    }

    /// The index of the validator with this key, if the set holds it.
    public func index(of key: PublicKey) -> ValidatorIndex? {
        validators.firstIndex { $0.publicKey == key }.map { ValidatorIndex(UInt16($0)) }
    }

    /// Whether `power` is more than two thirds of the total: a quorum for a commit or a polka.
    public func isQuorum(_ power: UInt64) -> Bool { power * 3 > totalPower * 2 }

    /// Whether `power` is more than one third of the total: enough that one honest validator is among them.
    public func isMoreThanOneThird(_ power: UInt64) -> Bool { power * 3 > totalPower }

    /// `H(0x08 ‖ encoding)`, named in every block header.
    public var hash: Hash { .tagged(.validatorSet, encoded()) }
}

extension ValidatorSet: BinaryCodable {
    /// `u16 count ‖ count × (u8 algorithm ‖ key[32] ‖ u64 power)`.
    public func encode(to writer: inout ByteWriter) {
        writer.write(UInt16(validators.count))
        for validator in validators {
            writer.write(validator.publicKey.algorithm.rawValue)
            writer.writeFixed(validator.publicKey.bytes)
            writer.write(validator.votingPower)
        }
    }

    public init(from reader: inout ByteReader) throws(CodecError) {
        let count = Int(try reader.readUInt16("validator count"))
        guard count <= Limits.validatorsMax else {
            throw .lengthExceedsLimit(field: "validators", length: count, limit: Limits.validatorsMax)
        }
        var validators: [Validator] = []
        for _ in 0..<count {
            let tag = try reader.readUInt8("key algorithm")
            guard let algorithm = SignatureAlgorithm(rawValue: tag) else {
                throw .invalidValue(field: "key algorithm", reason: "unknown algorithm \(tag)")
            }
            let bytes = try reader.readFixed(algorithm.publicKeyByteCount, "public key")
            let power = try reader.readUInt64("voting power")
            guard let key = try? PublicKey(algorithm: algorithm, bytes: bytes) else { preconditionFailure("key length checked") }
            validators.append(Validator(publicKey: key, votingPower: power))
        }
        do {
            try self.init(validators)
        } catch {
            throw .invalidValue(field: "validator set", reason: error.message)
        }
    }
}
