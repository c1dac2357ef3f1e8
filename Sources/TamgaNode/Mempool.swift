public import TamgaCore
import TamgaLedger
import Synchronization

/// Why the mempool refused a transaction.
public enum MempoolError: CodedError, Equatable {
    case full(transactions: Int, bytes: Int)
    case senderFull(PartyID)
    case duplicate(TransactionID)
    case tooLarge(bytes: Int)

    public var code: String {
        switch self {
        case .full: "mempool.full"
        case .senderFull: "mempool.sender_full"
        case .duplicate: "mempool.duplicate"
        case .tooLarge: "mempool.too_large"
        }
    }

    public var message: String {
        switch self {
        case let .full(transactions, bytes):
            "the mempool is full (\(transactions) transactions, \(bytes) bytes); try again after the next block"
        case let .senderFull(party):
            "\(party) already has \(Limits.mempoolTransactionsPerSenderMax) transactions waiting; wait for them to be committed"
        case let .duplicate(id): "transaction \(id) is already waiting"
        case let .tooLarge(bytes): "the envelope is \(bytes) bytes, more than \(Limits.envelopeBytesMax)"
        }
    }
}

/// Transactions admitted but not yet in a block: bounded in count, bytes and per sender,
/// deduplicated by id. A full mempool refuses with an error; it never drops what it accepted,
/// except a transaction that a later block made invalid (its nonce used, its fee no longer
/// affordable, expired), which the node finds when it checks the mempool again after each block.
struct Mempool {
    struct Entry {
        let transaction: PreparedTransaction
        let signer: PartyID
        let nonce: UInt64
        let bytes: Int
        let arrival: UInt64
    }

    let transactionsMax: Int
    let bytesMax: Int
    private(set) var entries: [TransactionID: Entry] = [:]
    private var bySender: [PartyID: [UInt64: TransactionID]] = [:]
    private(set) var bytes = 0
    private var arrivals: UInt64 = 0

    init(transactionsMax: Int = Limits.mempoolTransactionsMax, bytesMax: Int = Limits.mempoolBytesMax) {
        self.transactionsMax = transactionsMax
        self.bytesMax = bytesMax
    }

    var count: Int { entries.count }

    func contains(_ id: TransactionID) -> Bool { entries[id] != nil }

    mutating func add(_ transaction: PreparedTransaction, signer: PartyID, nonce: UInt64) throws(MempoolError) {
        let size = transaction.envelope.encodedByteCount
        guard entries[transaction.id] == nil else { throw .duplicate(transaction.id) }
        guard size <= Limits.envelopeBytesMax else { throw .tooLarge(bytes: size) }
        guard entries.count < transactionsMax, bytes + size <= bytesMax else { throw .full(transactions: entries.count, bytes: bytes) }
        var queued = bySender[signer] ?? [:]
        guard queued.count < Limits.mempoolTransactionsPerSenderMax else { throw .senderFull(signer) }
        // A second transaction with the same nonce would be refused by the ledger anyway; keep the first.
        guard queued[nonce] == nil else { throw .duplicate(transaction.id) }
        queued[nonce] = transaction.id
        bySender[signer] = queued
        arrivals += 1
        entries[transaction.id] = Entry(transaction: transaction, signer: signer, nonce: nonce, bytes: size, arrival: arrivals)
        bytes += size
    }

    mutating func remove(_ id: TransactionID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        bytes -= entry.bytes
        bySender[entry.signer]?[entry.nonce] = nil
        if bySender[entry.signer]?.isEmpty == true { bySender[entry.signer] = nil }
    }

    /// Transactions for a block: senders in order of their oldest waiting transaction, each
    /// sender's transactions in nonce order from `nextNonce(sender)` on, while the nonces run on
    /// without a gap. A transaction whose predecessor has not arrived waits.
    func reap(transactionsMax: Int, bytesMax: Int, nextNonce: (PartyID) -> UInt64?) -> [PreparedTransaction] {
        let senders = bySender.map { signer, queued in
            (signer: signer, nonces: queued.keys.sorted(), first: queued.values.compactMap { entries[$0]?.arrival }.min() ?? 0)
        }.sorted { ($0.first, $0.signer) < ($1.first, $1.signer) }
        var chosen: [PreparedTransaction] = []
        var size = 0
        outer: for sender in senders {
            guard var expected = nextNonce(sender.signer) else { continue }
            for nonce in sender.nonces {
                guard nonce == expected else { break }
                guard let id = bySender[sender.signer]?[nonce], let entry = entries[id] else { break }
                guard chosen.count < transactionsMax, size + entry.bytes <= bytesMax else { break outer }
                chosen.append(entry.transaction)
                size += entry.bytes
                expected += 1
            }
        }
        return chosen
    }

    /// Everything waiting, oldest first.
    var all: [Entry] { entries.values.sorted { $0.arrival < $1.arrival } }
}

/// Remembers signature verdicts, so that each signature is verified once per node: when its
/// transaction enters the mempool, not again when the block is checked and executed. Bounded;
/// the oldest verdicts are forgotten first.
final class SignatureMemory: SignatureVerifying, Sendable {
    /// Hashed once, over all its bytes in one call (hashing `[UInt8]` fields would feed the
    /// hasher byte by byte on every lookup).
    private struct Key: Hashable {
        let signature: [UInt8]
        let publicKey: [UInt8]
        private let digest: Int

        init(signature: [UInt8], publicKey: [UInt8]) {
            self.signature = signature
            self.publicKey = publicKey
            var hasher = Hasher()
            signature.withUnsafeBytes { hasher.combine(bytes: $0) }
            publicKey.withUnsafeBytes { hasher.combine(bytes: $0) }
            digest = hasher.finalize()
        }

        func hash(into hasher: inout Hasher) { hasher.combine(digest) }
        static func == (lhs: Key, rhs: Key) -> Bool {
            lhs.digest == rhs.digest && lhs.signature == rhs.signature && lhs.publicKey == rhs.publicKey
        }
    }

    private struct State {
        var verdicts: [Key: (message: Hash, valid: Bool)] = [:]
        var order: [Key] = []
        var start = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 200_000) { self.capacity = capacity }

    /// How many verdicts are kept now (at most `capacity`).
    var rememberedCount: Int { state.withLock { $0.verdicts.count } }

    func isValid(_ signature: Signature, by key: PublicKey, for message: [UInt8]) -> Bool {
        let entry = Key(signature: signature.bytes, publicKey: key.bytes)
        let digest = Hash.sha256(message)
        if let known = state.withLock({ $0.verdicts[entry] }), known.message == digest { return known.valid }
        let valid = key.isValidSignature(signature, for: message)
        state.withLock { state in
            if state.verdicts.updateValue((digest, valid), forKey: entry) == nil { state.order.append(entry) }
            if state.verdicts.count > capacity {
                state.verdicts[state.order[state.start]] = nil
                state.start += 1
                if state.start > capacity {
                    state.order.removeFirst(state.start)
                    state.start = 0
                }
            }
        }
        return valid
    }
}
