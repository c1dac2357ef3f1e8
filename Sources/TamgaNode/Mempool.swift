public import TamgaCore
import TamgaLedger
import Synchronization

/// Why the mempool refused a transaction.
public enum MempoolError: CodedError, Equatable {
    case full(transactions: Int, bytes: Int)
    case senderFull(PartyID)
    case duplicate(TransactionID)
    /// Another transaction of the same sender with the same nonce is waiting.
    case nonceTaken(PartyID, nonce: UInt64, waiting: TransactionID)
    case tooLarge(bytes: Int)
    /// The transaction expires further ahead than a mempool keeps anything.
    case expiresTooLate(maxHours: Int)
    /// The sender's waiting transactions together offer more in fees than its balance.
    case feesExceedBalance(PartyID)

    public var code: String {
        switch self {
        case .full: "mempool.full"
        case .senderFull: "mempool.sender_full"
        case .duplicate: "mempool.duplicate"
        case .nonceTaken: "mempool.nonce_taken"
        case .tooLarge: "mempool.too_large"
        case .expiresTooLate: "mempool.expires_too_late"
        case .feesExceedBalance: "mempool.fees_exceed_balance"
        }
    }

    public var message: String {
        switch self {
        case let .full(transactions, bytes):
            "the mempool is full (\(transactions) transactions, \(bytes) bytes) of transactions offering at least this fee; try again after the next block or offer more"
        case let .senderFull(party):
            "\(party) already has \(Limits.mempoolTransactionsPerSenderMax) transactions waiting; wait for them to be committed"
        case let .duplicate(id): "transaction \(id) is already waiting"
        case let .nonceTaken(party, nonce, waiting):
            "\(party) already has transaction \(waiting) waiting with nonce \(nonce); use the next nonce, or wait for that one"
        case let .tooLarge(bytes): "the envelope is \(bytes) bytes, more than \(Limits.envelopeBytesMax)"
        case let .expiresTooLate(hours): "the transaction expires more than \(hours) hours from now; a mempool keeps nothing that long"
        case let .feesExceedBalance(party):
            "\(party)'s waiting transactions with this one offer more in fees than it holds; wait for them to be committed"
        }
    }
}

/// Transactions admitted but not yet in a block: bounded in count, bytes and per sender,
/// deduplicated by id and by sender and nonce. When it is full, a transaction offering a higher
/// fee takes the place of the one offering the lowest; otherwise it is refused. The node also
/// drops transactions that a later block made invalid (nonce used, fees no longer affordable,
/// expired) and those parked behind a nonce gap for too long (`Node.parkedLifetime`). Each
/// dropped transaction is remembered with why, so that its sender is told.
struct Mempool {
    struct Entry {
        let transaction: PreparedTransaction
        let signer: PartyID
        let nonce: UInt64
        let fee: Tiyn
        let bytes: Int
        let arrival: UInt64
        let admittedAt: ContinuousClock.Instant
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

    /// The sender's waiting transaction with this nonce.
    func waiting(from signer: PartyID, nonce: UInt64) -> TransactionID? { bySender[signer]?[nonce] }

    /// The fees the sender's waiting transactions offer together (saturating).
    func waitingFees(of signer: PartyID) -> UInt64 {
        var total: UInt64 = 0
        for id in (bySender[signer] ?? [:]).values {
            let (sum, overflow) = total.addingReportingOverflow(entries[id]?.fee.rawValue ?? 0)
            total = overflow ? .max : sum
        }
        return total
    }

    /// Adds a transaction; returns the ids it displaced (lower fees, when full).
    @discardableResult
    mutating func add(_ transaction: PreparedTransaction, signer: PartyID, nonce: UInt64, mayDisplace: Bool = true,
                      now: ContinuousClock.Instant = .now) throws(MempoolError) -> [TransactionID] {
        let size = transaction.envelope.encodedByteCount
        let fee = (try? transaction.payload.get().fee) ?? .zero
        guard entries[transaction.id] == nil else { throw .duplicate(transaction.id) }
        guard size <= Limits.envelopeBytesMax else { throw .tooLarge(bytes: size) }
        var queued = bySender[signer] ?? [:]
        // A second transaction with the same nonce would be refused by the ledger anyway; keep the first.
        if let waiting = queued[nonce] { throw .nonceTaken(signer, nonce: nonce, waiting: waiting) }
        guard queued.count < Limits.mempoolTransactionsPerSenderMax else { throw .senderFull(signer) }
        var displaced: [TransactionID] = []
        if entries.count >= transactionsMax || bytes + size > bytesMax {
            // Under pressure the lowest fees go (the latest of those first), but only for a higher
            // one, and only if enough of them make room: the victims are chosen before anything changes.
            guard mayDisplace else { throw .full(transactions: entries.count, bytes: bytes) }
            let cheaper = entries.values.filter { $0.fee < fee && $0.signer != signer }
                .sorted { ($0.fee, UInt64.max - $0.arrival) < ($1.fee, UInt64.max - $1.arrival) }
            var (count, freed) = (entries.count, 0)
            for victim in cheaper where count >= transactionsMax || bytes - freed + size > bytesMax {
                displaced.append(victim.transaction.id)
                count -= 1
                freed += victim.bytes
            }
            guard count < transactionsMax, bytes - freed + size <= bytesMax else { throw .full(transactions: entries.count, bytes: bytes) }
            for id in displaced { remove(id) }
        }
        queued = bySender[signer] ?? [:]
        queued[nonce] = transaction.id
        bySender[signer] = queued
        arrivals += 1
        entries[transaction.id] = Entry(transaction: transaction, signer: signer, nonce: nonce, fee: fee, bytes: size, arrival: arrivals, admittedAt: now)
        bytes += size
        return displaced
    }

    mutating func remove(_ id: TransactionID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        bytes -= entry.bytes
        bySender[entry.signer]?[entry.nonce] = nil
        if bySender[entry.signer]?.isEmpty == true { bySender[entry.signer] = nil }
    }

    /// The sender's waiting transactions, highest nonce first, beyond those whose fees `balance`
    /// covers in nonce order: what no longer can pay.
    func unaffordable(of signer: PartyID, balance: Tiyn) -> [TransactionID] {
        var total: UInt64 = 0
        var beyond: [TransactionID] = []
        for nonce in (bySender[signer] ?? [:]).keys.sorted() {
            guard let id = bySender[signer]?[nonce], let entry = entries[id] else { continue }
            let (sum, overflow) = total.addingReportingOverflow(entry.fee.rawValue)
            if overflow || sum > balance.rawValue || !beyond.isEmpty { beyond.append(id) } else { total = sum }
        }
        return beyond.reversed()
    }

    /// Transactions that wait behind a nonce gap (their sender's next nonce has not arrived) and
    /// were admitted before `cutoff`.
    func parked(admittedBefore cutoff: ContinuousClock.Instant, nextNonce: (PartyID) -> UInt64?) -> [TransactionID] {
        var parked: [TransactionID] = []
        for (signer, queued) in bySender where queued.values.contains(where: { (entries[$0]?.admittedAt ?? cutoff) < cutoff }) {
            var expected = nextNonce(signer) ?? 0
            for nonce in queued.keys.sorted() where nonce >= expected {
                if nonce == expected {
                    expected += 1
                    continue
                }
                if let id = queued[nonce], let entry = entries[id], entry.admittedAt < cutoff { parked.append(id) }
            }
        }
        return parked
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
        // Only good verdicts are kept: a flood of forged signatures must not push out the
        // verdicts of transactions waiting for their block.
        guard valid else { return false }
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
