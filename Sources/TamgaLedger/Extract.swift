public import Foundation
public import TamgaCore

/// A verifiable extract of a property's passport: the passport record exactly as stored, a proof
/// that it is in the state whose root a block header names, that header, and the commit by which
/// more than two thirds of the validators finalized it. Anyone holding the network's genesis file
/// can check it offline (`Extract.verify`); a non-encumbrance certificate is an extract whose
/// passport has no restrictions.
public struct Extract: Codable, Sendable, Equatable {
    public static let format = "tamga-extract-v1"

    public var format: String
    public var chainId: String
    public var cadastralNumber: String
    public var height: UInt64
    /// The passport record's bytes, base64; `passport` is the same, decoded, for people.
    public var record: String
    public var passport: Passport
    /// `StateProof`, `BlockHeader` and `Commit` in their binary layouts (docs/encoding.md), base64.
    public var proof: String
    public var header: String
    public var commit: String
    /// The validator-set changes from genesis up to the header, which lead a verifier holding the
    /// genesis file to the set that signed it; absent while the genesis set still governs.
    public var validatorHandovers: [ValidatorHandover]?

    public init(cadastralNumber: CadastralNumber, record: [UInt8], proof: StateProof, header: BlockHeader, commit: Commit,
                validatorHandovers: [ValidatorHandover] = []) throws {
        self.format = Extract.format
        self.chainId = header.chainID.rawValue
        self.cadastralNumber = cadastralNumber.rawValue
        self.height = header.height.rawValue
        self.record = Base64.encode(record)
        self.passport = try RecordCoding.decode(Passport.self, record, key: RecordKey.property(cadastralNumber))
        self.proof = Base64.encode(proof.encoded())
        self.header = Base64.encode(header.encoded())
        self.commit = Base64.encode(commit.encoded())
        self.validatorHandovers = validatorHandovers.isEmpty ? nil : validatorHandovers
    }

    /// The verification code printed on the extract (`verificationHash` in hex): SHA-256 of the
    /// base64 texts of the header, proof and record, concatenated.
    public var verificationCode: String { verificationHash.hex }

    public var verificationHash: Hash { Hash.sha256(Array((header + proof + record).utf8)) }

    /// Why an extract does not verify.
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case malformed(String)
        case wrongChain(String)
        case handoverInvalid(String)
        case commitInvalid(String)
        case proofInvalid(String)
        case passportMismatch

        public var description: String {
            switch self {
            case let .malformed(reason): "the extract is malformed: \(reason)"
            case let .wrongChain(chain): "the extract is for chain \(chain), not this genesis's"
            case let .handoverInvalid(reason): "the validator-set changes do not follow from the genesis validators: \(reason)"
            case let .commitInvalid(reason): "the block header is not finalized by the validators of its height: \(reason)"
            case let .proofInvalid(reason): "the passport is not in the state the block header names: \(reason)"
            case .passportMismatch: "the readable passport differs from the proven record"
            }
        }
    }

    /// Checks the extract against the genesis validators: the validator handovers lead from them to
    /// the set of the header's height, that set's commit finalizes the header, the proof puts
    /// exactly this record under this property's key in the header's state root, and the readable
    /// passport is that record. Returns the header on success.
    public func verify(chain: ChainID, validators genesisValidators: ValidatorSet) throws(Failure) -> BlockHeader {
        guard format == Extract.format else { throw .malformed("format \(format)") }
        guard let number = try? CadastralNumber(cadastralNumber) else { throw .malformed("cadastral number \(cadastralNumber)") }
        guard let recordBytes = Base64.decode(record), let proofBytes = Base64.decode(proof),
              let headerBytes = Base64.decode(header), let commitBytes = Base64.decode(commit)
        else { throw .malformed("a field is not base64") }
        let header: BlockHeader, commit: Commit, proof: StateProof
        do {
            header = try BlockHeader.decode(headerBytes)
            commit = try Commit.decode(commitBytes)
            proof = try StateProof.decode(proofBytes)
        } catch {
            throw .malformed(error.message)
        }
        guard header.chainID == chain, chainId == chain.rawValue else { throw .wrongChain(chainId) }
        guard header.height.rawValue == height else { throw .malformed("the height differs from the header's") }
        let validators: ValidatorSet
        do {
            validators = try ValidatorHandover.follow(validatorHandovers ?? [], from: genesisValidators, chain: chain).validators(at: header.height)
        } catch {
            throw .handoverInvalid(error.message)
        }
        do {
            try commit.verify(blockHash: header.hash, height: header.height, chainID: chain, validators: validators)
        } catch {
            throw .commitInvalid(error.message)
        }
        do {
            try proof.verifyInclusion(key: RecordKey.property(number), value: recordBytes, root: header.stateRoot)
        } catch {
            throw .proofInvalid(error.message)
        }
        guard let proven = try? RecordCoding.decode(Passport.self, recordBytes, key: RecordKey.property(number)), proven == passport else {
            throw .passportMismatch
        }
        return header
    }
}
