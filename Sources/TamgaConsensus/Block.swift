public import TamgaCore

/// A block: its header, its transactions, and the commit that finalized the previous block.
public struct Block: Hashable, Sendable {
    public let header: BlockHeader
    public let transactions: [SignedEnvelope]
    /// The precommits for the previous block; nil only at height 1.
    public let lastCommit: Commit?
    /// Equivocations found by the proposer, put on chain.
    public let evidence: [Evidence]

    public init(header: BlockHeader, transactions: [SignedEnvelope], lastCommit: Commit?, evidence: [Evidence] = []) {
        self.header = header
        self.transactions = transactions
        self.lastCommit = lastCommit
        self.evidence = evidence
    }

    /// The block hash (the header's hash), which votes name.
    public var hash: Hash { header.hash }

    /// The Merkle root of the transactions' entry hashes, for the header.
    public static func transactionsRoot(_ transactions: [SignedEnvelope]) -> Hash {
        MerkleTree.root(of: transactions.map(\.entryHash))
    }

    /// The Merkle root of the evidence hashes, for the header.
    public static func evidenceRoot(_ evidence: [Evidence]) -> Hash {
        MerkleTree.root(of: evidence.map(\.hash))
    }
}

/// Why a proposed block is not valid. Every validator checks the same rules and reaches the same verdict.
public enum BlockError: CodedError, Equatable {
    case wrongChain
    case wrongHeight(expected: Height, actual: Height)
    case wrongPreviousBlock
    case missingLastCommit
    case lastCommitInvalid(CommitError)
    case wrongLastCommitHash
    case wrongTime(expected: Timestamp, actual: Timestamp)
    case wrongTransactionsRoot
    case wrongValidatorSet
    case unknownProposer(ValidatorIndex)
    case tooManyTransactions(Int)
    case tooMuchEvidence(Int)
    case invalidEvidence(ValidatorIndex)
    case wrongEvidenceRoot

    public var code: String {
        switch self {
        case .wrongChain: "block.wrong_chain"
        case .wrongHeight: "block.wrong_height"
        case .wrongPreviousBlock: "block.wrong_previous_block"
        case .missingLastCommit: "block.missing_last_commit"
        case .lastCommitInvalid: "block.last_commit_invalid"
        case .wrongLastCommitHash: "block.wrong_last_commit_hash"
        case .wrongTime: "block.wrong_time"
        case .wrongTransactionsRoot: "block.wrong_transactions_root"
        case .wrongValidatorSet: "block.wrong_validator_set"
        case .unknownProposer: "block.unknown_proposer"
        case .tooManyTransactions: "block.too_many_transactions"
        case .tooMuchEvidence: "block.too_much_evidence"
        case .invalidEvidence: "block.invalid_evidence"
        case .wrongEvidenceRoot: "block.wrong_evidence_root"
        }
    }

    public var message: String {
        switch self {
        case .wrongChain: "the block is for another chain"
        case let .wrongHeight(expected, actual): "the block is at height \(actual), expected \(expected)"
        case .wrongPreviousBlock: "the block does not follow the last decided block"
        case .missingLastCommit: "the block carries no commit for the previous block"
        case let .lastCommitInvalid(error): "the previous block's commit is invalid: \(error.message)"
        case .wrongLastCommitHash: "the header's last commit hash does not match the commit carried"
        case let .wrongTime(expected, actual): "block time \(actual) is not the weighted median \(expected) of the commit's timestamps"
        case .wrongTransactionsRoot: "the header's transactions root does not match the transactions"
        case .wrongValidatorSet: "the header names another validator set"
        case let .unknownProposer(index): "the header names proposer \(index), who is not a validator"
        case let .tooManyTransactions(count): "\(count) transactions, more than \(Limits.blockTransactionsMax)"
        case let .tooMuchEvidence(count): "\(count) pieces of evidence, more than \(Limits.blockEvidenceMax)"
        case let .invalidEvidence(index): "the evidence against validator \(index) is not two valid conflicting votes of this or the previous height"
        case .wrongEvidenceRoot: "the header's evidence root does not match the evidence"
        }
    }
}

/// What a validator knows about the chain when it checks a proposed block.
public struct ChainTip: Hashable, Sendable {
    public let chainID: ChainID
    /// The height the proposed block must have.
    public let height: Height
    /// The last decided block's hash; zero before height 1.
    public let previousBlockHash: Hash
    /// The validators that signed the previous block's commit.
    public let previousValidators: ValidatorSet?
    /// The validators of the proposed block's height.
    public let validators: ValidatorSet
    /// Block time at height 1 (genesis time).
    public let genesisTime: Timestamp

    public init(chainID: ChainID, height: Height, previousBlockHash: Hash, previousValidators: ValidatorSet?, validators: ValidatorSet, genesisTime: Timestamp) {
        self.chainID = chainID
        self.height = height
        self.previousBlockHash = previousBlockHash
        self.previousValidators = previousValidators
        self.validators = validators
        self.genesisTime = genesisTime
    }

    /// Checks everything consensus owns about `block`: chain, height, link to the previous block,
    /// the previous commit and the block time derived from it, the transactions root, the
    /// validator set, the proposer and the evidence. The ledger checks the transactions.
    ///
    /// The proposer named in the header is the validator that built the block; a block can be
    /// proposed again in a later round by that round's proposer (a locked or valid value), so the
    /// header's proposer need only be a validator. Consensus checks who signed each proposal.
    public func validate(_ block: Block) throws(BlockError) {
        let header = block.header
        guard header.chainID == chainID else { throw .wrongChain }
        guard header.height == height else { throw .wrongHeight(expected: height, actual: header.height) }
        guard header.previousBlockHash == previousBlockHash else { throw .wrongPreviousBlock }
        guard block.transactions.count <= Limits.blockTransactionsMax else { throw .tooManyTransactions(block.transactions.count) }
        guard header.validatorSetHash == validators.hash else { throw .wrongValidatorSet }
        guard validators[header.proposer] != nil else { throw .unknownProposer(header.proposer) }
        let expectedTime: Timestamp
        if height == Height(1) {
            expectedTime = genesisTime
            guard header.lastCommitHash == .zero else { throw .wrongLastCommitHash }
        } else {
            guard let commit = block.lastCommit, let previousValidators else { throw .missingLastCommit }
            do {
                try commit.verify(blockHash: previousBlockHash, height: Height(height.rawValue - 1), chainID: chainID, validators: previousValidators)
            } catch {
                throw .lastCommitInvalid(error)
            }
            guard header.lastCommitHash == commit.hash else { throw .wrongLastCommitHash }
            expectedTime = BlockTime.weightedMedian(of: commit, validators: previousValidators)
        }
        guard header.time == expectedTime else { throw .wrongTime(expected: expectedTime, actual: header.time) }
        guard header.transactionsRoot == Block.transactionsRoot(block.transactions) else { throw .wrongTransactionsRoot }
        guard block.evidence.count <= Limits.blockEvidenceMax else { throw .tooMuchEvidence(block.evidence.count) }
        for item in block.evidence {
            // Evidence is checked against the validators of its own height: this one or the last.
            // Heights come off the wire: compare without arithmetic that could overflow.
            let set = item.height == height ? validators : (item.height.rawValue == height.rawValue &- 1 ? previousValidators : nil)
            guard let set, Evidence(item.first, item.second, validators: set) == item else { throw .invalidEvidence(item.validator) }
        }
        guard header.evidenceRoot == Block.evidenceRoot(block.evidence) else { throw .wrongEvidenceRoot }
    }
}

/// BFT time: the time of a block is derived from the previous block's commit, so no single
/// validator's clock decides it.
public enum BlockTime {
    /// The weighted median of the commit's precommit timestamps: sort them, and take the first
    /// at which the accumulated voting power exceeds half of the power that signed. Fewer than a
    /// third of the validators by power cannot move it outside the range of honest timestamps.
    public static func weightedMedian(of commit: Commit, validators: ValidatorSet) -> Timestamp {
        let weighted = commit.signatures.compactMap { entry in
            validators[entry.validator].map { (time: entry.timestamp, power: $0.votingPower) }
        }.sorted { ($0.time, $0.power) < ($1.time, $1.power) }
        let total = weighted.reduce(0) { $0 + $1.power }
        precondition(total > 0, "a verified commit carries voting power")
        var accumulated: UInt64 = 0
        for entry in weighted {
            accumulated += entry.power
            if accumulated * 2 > total { return entry.time }
        }
        preconditionFailure("the median lies within the total")
    }
}
