public import TamgaCore

/// The proof that the validator set changed: the header of a block, the commit by which the set
/// of that height finalized it, and the `validators` record in the state that header names, with
/// its proof. The state a header at height Y names is the one after block Y − 1, so a set decided
/// there governs from Y + 1 (`ValidatorSchedule.activationDelay` after the deciding block).
///
/// Whoever holds the genesis validators can follow the handovers in order
/// (`ValidatorHandover.follow`) to the set of any later height, without the blocks in between:
/// `tamga verify`, the portal's verifier and a node joining by state sync do. Every field is
/// base64 of the binary layout in docs/encoding.md (the record is the state's canonical JSON).
public struct ValidatorHandover: Codable, Sendable, Hashable {
    public var header: String
    public var commit: String
    public var record: String
    public var proof: String

    public init(header: BlockHeader, commit: Commit, record: [UInt8], proof: StateProof) {
        self.header = Base64.encode(header.encoded())
        self.commit = Base64.encode(commit.encoded())
        self.record = Base64.encode(record)
        self.proof = Base64.encode(proof.encoded())
    }

    /// Why a list of handovers does not lead from the genesis set to a later one.
    public enum Failure: CodedError, Equatable {
        case malformed(index: Int, reason: String)
        case wrongChain(index: Int)
        case outOfOrder(index: Int)
        case noChange(index: Int)
        case commitInvalid(index: Int, reason: String)
        case proofInvalid(index: Int, reason: String)

        public var code: String {
            switch self {
            case .malformed: "handover.malformed"
            case .wrongChain: "handover.wrong_chain"
            case .outOfOrder: "handover.out_of_order"
            case .noChange: "handover.no_change"
            case .commitInvalid: "handover.commit_invalid"
            case .proofInvalid: "handover.proof_invalid"
            }
        }

        public var message: String {
            switch self {
            case let .malformed(index, reason): "validator handover \(index) is malformed: \(reason)"
            case let .wrongChain(index): "validator handover \(index) is of another chain"
            case let .outOfOrder(index): "validator handover \(index) is not at a greater height than the one before"
            case let .noChange(index): "validator handover \(index) hands over to the set already in force"
            case let .commitInvalid(index, reason): "validator handover \(index) is not finalized by the set of its height: \(reason)"
            case let .proofInvalid(index, reason): "validator handover \(index) does not prove its validator set: \(reason)"
            }
        }
    }

    /// The decoded parts, for sending them in their binary layouts.
    public func parts() throws(Failure) -> (header: BlockHeader, commit: Commit, record: [UInt8], proof: StateProof) {
        guard let headerBytes = Base64.decode(header), let commitBytes = Base64.decode(commit),
              let record = Base64.decode(record), let proofBytes = Base64.decode(proof)
        else { throw .malformed(index: 0, reason: "a field is not base64") }
        do {
            return (try BlockHeader.decode(headerBytes), try Commit.decode(commitBytes), record, try StateProof.decode(proofBytes))
        } catch {
            throw .malformed(index: 0, reason: error.message)
        }
    }

    /// The header's height: the new set governs from the height after it.
    public var height: Height? { Base64.decode(header).flatMap { try? BlockHeader.decode($0) }?.height }

    /// Follows `handovers`, in height order, from the genesis set: each must be finalized by the set
    /// the ones before it lead to, and prove the set it hands over to. Returns the schedule they
    /// establish.
    public static func follow(_ handovers: [ValidatorHandover], from genesis: ValidatorSet, chain: ChainID) throws(Failure) -> ValidatorSchedule {
        var schedule = ValidatorSchedule(genesis: genesis)
        try follow(handovers, continuing: &schedule, chain: chain)
        return schedule
    }

    /// Follows `handovers` on from the changes `schedule` already holds (as `follow(_:from:chain:)`
    /// made it): each must come after the last of them. A list taken in pages is checked page by
    /// page this way. Failures count `index` within `handovers`.
    public static func follow(_ handovers: [ValidatorHandover], continuing schedule: inout ValidatorSchedule, chain: ChainID) throws(Failure) {
        // The set of the last change governs from the height after its header (genesis: from 1).
        var last = Height((schedule.sets.last?.from.rawValue ?? 1) - 1)
        for (index, handover) in handovers.enumerated() {
            let (header, commit, record, proof): (BlockHeader, Commit, [UInt8], StateProof)
            do {
                (header, commit, record, proof) = try handover.parts()
            } catch {
                guard case let .malformed(_, reason) = error else { throw error }
                throw .malformed(index: index, reason: reason)
            }
            guard header.chainID == chain else { throw .wrongChain(index: index) }
            guard header.height > last, header.height.rawValue >= 1, header.height.rawValue < UInt64.max - ValidatorSchedule.activationDelay else {
                throw .outOfOrder(index: index)
            }
            last = header.height
            do {
                try commit.verify(blockHash: header.hash, height: header.height, chainID: chain, validators: schedule.validators(at: header.height))
            } catch {
                throw .commitInvalid(index: index, reason: error.message)
            }
            do {
                try proof.verifyInclusion(key: RecordKey.validators, value: record, root: header.stateRoot)
            } catch {
                throw .proofInvalid(index: index, reason: error.message)
            }
            let validators: ValidatorSet
            do {
                validators = try set(inRecord: record)
            } catch {
                throw .malformed(index: index, reason: "the validators record: \(error)")
            }
            // Each handover changes the set: a list padded with headers that change nothing would
            // make every verifier check their commits for nothing.
            guard validators != schedule.validators(at: header.height.next) else { throw .noChange(index: index) }
            schedule.schedule(validators, decidedAt: Height(header.height.rawValue - 1))
        }
    }

    /// The validator set a block's state updates decide, if they write the `validators` record.
    public static func decidedSet(in updates: [StateUpdate]) throws -> ValidatorSet? {
        guard let update = updates.last(where: { $0.key == RecordKey.validators }), let value = update.value else { return nil }
        return try set(inRecord: value)
    }

    /// The validator set a `validators` record's bytes name.
    public static func set(inRecord record: [UInt8]) throws -> ValidatorSet {
        try ValidatorSet(RecordCoding.decode([Validator].self, record, key: RecordKey.validators))
    }
}
