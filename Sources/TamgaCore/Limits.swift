/// Every bound in Tamga, in one place, so that their relations can be checked together
/// (see `LimitsTests`). A value that exceeds a limit is refused with a typed error naming it.
public enum Limits {
    /// Bytes in a chain id.
    public static let chainIDBytesMax = 64
    /// Bytes in a party id.
    public static let partyIDBytesMax = 64
    /// Bytes in a cadastral number (`RR-DDD-QQQ-PPPPPP:UUUUUU`).
    public static let cadastralNumberBytesMax = 23
    /// The largest denominator of an ownership share after reduction.
    public static let shareDenominatorMax: UInt64 = 1_000_000_000_000

    /// Bytes of a transaction payload as signed.
    public static let transactionPayloadBytesMax = 32 * 1024
    /// Signatures on one transaction envelope (all co-owners of a deed sign separately, so this
    /// is not the deed's party limit).
    public static let envelopeSignaturesMax = 8
    /// Bytes of one encoded envelope: payload, its length, and the signatures.
    public static let envelopeBytesMax = 4 + transactionPayloadBytesMax + 1 + envelopeSignaturesMax * (Hash.byteCount + 64)

    /// Transactions in one block.
    public static let blockTransactionsMax = 5_000
    /// Bytes of one block's transactions.
    public static let blockTransactionBytesMax = 8 * 1024 * 1024
    /// Validators in a validator set (votes and commits are sized by it).
    public static let validatorsMax = 150
    /// Evidence items in one block.
    public static let blockEvidenceMax = 100

    /// Bytes of one message between peers, including framing. A whole block with its commit must fit.
    public static let peerMessageBytesMax = 16 * 1024 * 1024

    /// Transactions waiting in the mempool.
    public static let mempoolTransactionsMax = 50_000
    /// Bytes of transactions waiting in the mempool.
    public static let mempoolBytesMax = 128 * 1024 * 1024
    /// Transactions from one signer waiting in the mempool.
    public static let mempoolTransactionsPerSenderMax = 64

    /// Parties named in one deed (sellers, buyers, a financing bank and a notary).
    public static let deedPartiesMax = 32
    /// Deeds open at once in the whole ledger (the index that expiry reads at the end of every block).
    public static let openDeedsMax = 10_000
    /// Deeds open at once on one property.
    public static let openDeedsPerPropertyMax = 8
    /// Pledges on one property at once (arrests are not bounded here: only courts and
    /// enforcement officers impose them, and no owner may keep an authority from acting).
    public static let pledgesPerPropertyMax = 16
    /// Arrests on one property at once.
    public static let arrestsPerPropertyMax = 256
    /// Source documents a passport lists: the title document and the latest others (every
    /// document stays in the transaction that cited it, in the chain and in the history).
    public static let documentsPerPropertyMax = 1_000
    /// Properties one party owns a share of at once.
    public static let holdingsPerPartyMax = 10_000
    /// Parties holding the validator operator role (the fee split and governance votes read them all).
    public static let validatorOperatorsMax = validatorsMax

    /// Items in one page of an API list.
    public static let pageSizeMax = 500
    /// Siblings in a state proof: one per bit of a SHA-256 key hash.
    public static let stateProofSiblingsMax = 256
    /// Hashes in a transaction-list Merkle proof: a tree of `blockTransactionsMax` leaves is shallower.
    public static let merkleProofHashesMax = 64
    /// Bytes of a value stored in the authenticated map.
    public static let stateValueBytesMax = 1024 * 1024
    /// Bytes of one source document (a scanned PDF or image) a node keeps and sends to peers.
    public static let documentBytesMax = 8 * 1024 * 1024
}
