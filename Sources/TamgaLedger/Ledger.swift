public import TamgaCore

/// Checks signatures for the ledger. Nodes verify each signature once, when a transaction enters
/// the mempool, and pass a verifier that remembers the verdicts.
public protocol SignatureVerifying {
    func isValid(_ signature: Signature, by key: PublicKey, for message: [UInt8]) -> Bool
}

/// Verifies every signature with the pinned Ed25519 rules.
public struct DirectVerifier: SignatureVerifying {
    public init() {}
    public func isValid(_ signature: Signature, by key: PublicKey, for message: [UInt8]) -> Bool {
        key.isValidSignature(signature, for: message)
    }
}

/// An envelope with its payload decoded: what the mempool keeps, so that a transaction is decoded
/// once per node rather than once per look.
public struct PreparedTransaction: Sendable {
    public let envelope: SignedEnvelope
    public let id: TransactionID
    /// The decoded payload, or why it does not decode (then the transaction is refused before execution).
    public let payload: Result<TransactionPayload, Rejection>

    public init(_ envelope: SignedEnvelope) {
        self.envelope = envelope
        self.id = envelope.transactionID
        do {
            self.payload = .success(try TransactionPayload.decode(envelope.payload))
        } catch {
            self.payload = .failure(error)
        }
    }
}

/// Something that happened, naming every party and property touched; notifications, history and
/// the read model are built from events.
public struct LedgerEvent: Codable, Hashable, Sendable {
    public var kind: String
    public var parties: [PartyID]
    public var properties: [CadastralNumber]
    public var deed: TransactionID?
    public var amount: Tiyn?

    init(_ kind: String, parties: [PartyID], properties: [CadastralNumber] = [], deed: TransactionID? = nil, amount: Tiyn? = nil) {
        self.kind = kind
        self.parties = Array(Set(parties)).sorted()
        self.properties = Array(Set(properties)).sorted()
        self.deed = deed
        self.amount = amount
    }
}

/// The outcome of one transaction, stored with the block.
public struct Receipt: Codable, Hashable, Sendable {
    public var transaction: TransactionID
    /// Nil when committed; the rejection code otherwise.
    public var rejectionCode: String?
    public var rejectionMessage: String?
    public var events: [LedgerEvent]
    public var feePaid: Tiyn

    public var isCommitted: Bool { rejectionCode == nil }
}

/// The result of executing a block: one receipt per transaction, in order, and the state changes.
public struct BlockOutcome: Sendable {
    public var receipts: [Receipt]
    /// Sorted by key.
    public var updates: [StateUpdate]
}

/// The registry's rules: a pure function of (state, block of transactions, block time).
///
/// No clock, no randomness, no dictionary order in any output: the same block on the same state
/// gives the same receipts and the same updates on every node.
public struct Ledger<Verifier: SignatureVerifying> {
    public let chainID: ChainID
    public let verifier: Verifier

    public init(chainID: ChainID, verifier: Verifier) {
        self.chainID = chainID
        self.verifier = verifier
    }

    /// Executes `transactions` in order at `blockTime` on `state`.
    ///
    /// - Throws: `LedgerStateError` when state cannot be read (an operating failure), and nothing
    ///   else: a refused transaction gets a receipt with its rejection code, and no arithmetic on
    ///   input traps (`CheckedArithmetic.swift`), so a decided block always executes.
    public func execute(_ transactions: [SignedEnvelope], blockTime: Timestamp, state: some LedgerStateReading) throws -> BlockOutcome {
        try execute(transactions.map(PreparedTransaction.init), blockTime: blockTime, state: state)
    }

    /// Executes transactions whose payloads were decoded already (when they entered the mempool).
    ///
    /// - Parameter cache: decoded records kept between blocks, with the root of `state`; see
    ///   `LedgerStateCache`.
    public func execute(_ transactions: [PreparedTransaction], blockTime: Timestamp, state: some LedgerStateReading,
                        cache: (LedgerStateCache, stateRoot: Hash)? = nil) throws -> BlockOutcome {
        var working = cache.map { WorkingState(base: state, cache: $0.0.records(for: $0.stateRoot)) } ?? WorkingState(base: state)
        var receipts: [Receipt] = []
        receipts.reserveCapacity(transactions.count)
        for transaction in transactions {
            receipts.append(try execute(transaction, blockTime: blockTime, state: &working))
        }
        try endBlock(blockTime: blockTime, state: &working)
        cache?.0.keep(working.blockWrites)
        return BlockOutcome(receipts: receipts, updates: working.updates)
    }

    private func execute(_ transaction: PreparedTransaction, blockTime: Timestamp, state: inout WorkingState) throws -> Receipt {
        let envelope = transaction.envelope
        let id = transaction.id
        // Checks before execution: a failure here changes nothing at all.
        let checked: CheckedTransaction
        do {
            checked = try check(envelope, payload: transaction.payload.get(), blockTime: blockTime, state: state)
        } catch let rejection as Rejection {
            return Receipt(transaction: id, rejectionCode: rejection.code, rejectionMessage: rejection.message, events: [], feePaid: .zero)
        }
        var context = ExecutionContext(id: id, payload: checked.payload, signers: checked.signers, provenKeys: checked.provenKeys, blockTime: blockTime)
        // The nonce and fee are taken first, and stay taken whatever the action's outcome.
        do {
            try chargeNonceAndFee(checked.payload.signer, nonce: checked.payload.nonce, fee: checked.payload.fee, state: &state)
        } catch let rejection as Rejection {
            state.dropTransaction()
            return Receipt(transaction: id, rejectionCode: rejection.code, rejectionMessage: rejection.message, events: [], feePaid: .zero)
        }
        state.keepTransaction()
        do {
            try apply(checked.payload.action, context: &context, state: &state)
            try state.checkRecordSizes()
            state.keepTransaction()
        } catch let rejection as Rejection {
            state.dropTransaction()
            return Receipt(transaction: id, rejectionCode: rejection.code, rejectionMessage: rejection.message, events: [], feePaid: checked.payload.fee)
        }
        return Receipt(transaction: id, rejectionCode: nil, rejectionMessage: nil, events: context.events, feePaid: checked.payload.fee)
    }

    /// The checks a node makes before it accepts a transaction into its mempool: the same as
    /// before execution (chain, expiry at `now`, signatures, nonce, fee), except that the nonce
    /// may run up to `nonceLookahead` ahead of the next one. Signatures go through the verifier,
    /// which a node uses to remember verdicts for when the transaction is executed.
    ///
    /// - Parameter cache: decoded records of `state`, as for `execute`, so that admission does
    ///   not decode the same party and account records again for every transaction.
    /// - Returns: the signer and the nonce, by which the mempool orders its transactions.
    public func admit(_ transaction: PreparedTransaction, now: Timestamp, state: some LedgerStateReading,
                      nonceLookahead: UInt64, cache: (LedgerStateCache, stateRoot: Hash)? = nil) throws -> Admission {
        let payload = try transaction.payload.get()
        let working = cache.map { WorkingState(base: state, cache: $0.0.records(for: $0.stateRoot)) } ?? WorkingState(base: state)
        let checked = try check(transaction.envelope, payload: payload, blockTime: now, state: working, nonceLookahead: nonceLookahead)
        return Admission(signer: checked.payload.signer, nonce: checked.payload.nonce, lastNonce: checked.lastNonce, balance: checked.balance)
    }

    /// What admission found: the signer and the transaction's nonce, and the signer's last nonce
    /// and balance in the state it checked against (for a mempool's own rules).
    public struct Admission: Sendable {
        public let signer: PartyID
        public let nonce: UInt64
        public let lastNonce: UInt64
        public let balance: Tiyn
    }

    /// The key behind each of the envelope's signatures in `state` (a party's current key, or the
    /// key the transaction itself introduces), as `check` will resolve them; signatures by keys it
    /// does not know are left out (`check` refuses them). For verifying ahead, off a busy thread.
    public func signingKeys(of transaction: PreparedTransaction, state: some LedgerStateReading,
                            cache: (LedgerStateCache, stateRoot: Hash)? = nil) -> [(Signature, PublicKey)] {
        guard case let .success(payload) = transaction.payload else { return [] }
        let working = cache.map { WorkingState(base: state, cache: $0.0.records(for: $0.stateRoot)) } ?? WorkingState(base: state)
        return transaction.envelope.signatures.compactMap { entry in
            (try? resolveKey(entry.keyID, payload: payload, state: working)).flatMap { $0 }.map { (entry.signature, $0.key) }
        }
    }

    /// A signing key: the current key of the party it belongs to, or the key the transaction introduces.
    private func resolveKey(_ keyID: KeyID, payload: TransactionPayload, state: WorkingState) throws -> (key: PublicKey, owner: PartyID?)? {
        if let party = try state.record(PartyID.self, RecordKey.key(keyID)),
           let record = try state.record(PartyRecord.self, RecordKey.party(party)),
           let current = record.keys.first(where: { $0.keyID == keyID }) {
            return (current, party)
        }
        if let proposed = payload.action.proposedKey, proposed.keyID == keyID { return (proposed, nil) }
        return nil
    }

    private func chargeNonceAndFee(_ signer: PartyID, nonce: UInt64, fee: Tiyn, state: inout WorkingState) throws {
        state.put(nonce, at: RecordKey.nonce(signer))
        var account = try state.account(signer)
        // check() made sure the fee is affordable, and the pool is part of the supply.
        account.balance = try account.balance.minus(fee)
        state.put(account, at: RecordKey.account(signer))
        let pool = try state.record(Tiyn.self, RecordKey.feePool) ?? .zero
        state.put(try pool.plus(fee), at: RecordKey.feePool)
    }

    struct CheckedTransaction {
        let payload: TransactionPayload
        /// Every party that signed the envelope, the signer first.
        let signers: [PartyID]
        /// Keys of no party yet that signed (a party being enrolled proves its key this way).
        let provenKeys: [KeyID]
        /// The signer's last nonce and balance before the transaction.
        let lastNonce: UInt64
        let balance: Tiyn
    }

    /// Decoding, chain, expiry, signatures, nonce and fee: everything checked before execution.
    ///
    /// - Parameter nonceLookahead: how far past the next nonce a transaction may be (0 in a
    ///   block; the mempool holds a few queued transactions per sender).
    private func check(_ envelope: SignedEnvelope, payload: TransactionPayload, blockTime: Timestamp, state: WorkingState,
                       nonceLookahead: UInt64 = 0) throws -> CheckedTransaction {
        guard payload.chainID == chainID else {
            throw Rejection(.wrongChain, "the transaction is for chain \(payload.chainID), this is \(chainID)")
        }
        guard blockTime <= payload.expiresAt else { throw Rejection(.expired, "the transaction expired at \(payload.expiresAt)") }
        guard try state.record(PartyRecord.self, RecordKey.party(payload.signer)) != nil else {
            throw Rejection(.unknownSigner, "no enrolled party \(payload.signer)")
        }
        var signers: [PartyID] = []
        var provenKeys: [KeyID] = []
        for entry in envelope.signatures {
            // A key the transaction introduces signs to prove that its holder has it (owner nil).
            guard let (key, owner) = try resolveKey(entry.keyID, payload: payload, state: state) else {
                throw Rejection(.unknownKey, "key \(entry.keyID) is not a current key of any party")
            }
            guard verifier.isValid(entry.signature, by: key, for: envelope.payload) else {
                throw Rejection(.unknownKey, "the signature by key \(entry.keyID) is invalid")
            }
            if let owner, !signers.contains(owner) { signers.append(owner) }
            if owner == nil { provenKeys.append(entry.keyID) }
        }
        guard signers.contains(payload.signer) else {
            throw Rejection(.signerSignatureMissing, "\(payload.signer) did not sign the transaction")
        }
        let lastNonce = try state.record(UInt64.self, RecordKey.nonce(payload.signer)) ?? 0
        guard payload.nonce > lastNonce, payload.nonce - lastNonce - 1 <= nonceLookahead else {
            throw Rejection(.badNonce, "nonce \(payload.nonce) is not one more than \(payload.signer)'s last, \(lastNonce)")
        }
        let parameters = try state.record(Parameters.self, RecordKey.parameters) ?? Parameters()
        guard payload.fee >= parameters.minimumFee else {
            throw Rejection(.feeTooLow, "the fee \(payload.fee) is below the minimum \(parameters.minimumFee)")
        }
        let account = try state.record(Account.self, RecordKey.account(payload.signer)) ?? .empty
        guard payload.fee <= account.balance else {
            throw Rejection(.cannotPayFee, "\(payload.signer) has less available than the fee \(payload.fee)")
        }
        signers.removeAll { $0 == payload.signer }
        return CheckedTransaction(payload: payload, signers: [payload.signer] + signers, provenKeys: provenKeys,
                                  lastNonce: lastNonce, balance: account.balance)
    }

    /// The family rules.
    private func apply(_ action: Action, context: inout ExecutionContext, state: inout WorkingState) throws {
        switch action {
        case let .enroll(body): try enroll(body, context: &context, state: &state)
        case let .mint(body): try mint(body, context: &context, state: &state)
        case let .burn(body): try burn(body, context: &context, state: &state)
        case let .transfer(body): try transfer(body, context: &context, state: &state)
        case let .registerProperty(body): try registerProperty(body, context: &context, state: &state)
        case let .list(body): try list(body, context: &context, state: &state)
        case let .withdrawListing(body): try withdrawListing(body, context: &context, state: &state)
        case let .buy(body): try buy(body, context: &context, state: &state)
        case let .proposeDeed(body): try proposeDeed(body, context: &context, state: &state)
        case let .signDeed(body): try signDeed(body, context: &context, state: &state)
        case let .attestDeed(body): try attestDeed(body, context: &context, state: &state)
        case let .cancelDeed(body): try cancelDeed(body, context: &context, state: &state)
        case let .confirmPayment(body): try confirmPayment(body, context: &context, state: &state)
        case let .proposePledge(body): try proposePledge(body, context: &context, state: &state)
        case let .signPledge(body): try signPledge(body, context: &context, state: &state)
        case let .registerPledge(body): try registerPledge(body, context: &context, state: &state)
        case let .rejectPledge(body): try rejectPledge(body, context: &context, state: &state)
        case let .releasePledge(body): try releasePledge(body, context: &context, state: &state)
        case let .invalidateDeed(body): try invalidateDeed(body, context: &context, state: &state)
        case let .orderTransfer(body): try orderTransfer(body, context: &context, state: &state)
        case let .addKey(body): try addKey(body, context: &context, state: &state)
        case let .revokeKey(body): try revokeKey(body, context: &context, state: &state)
        case let .requestRecovery(body): try requestRecovery(body, context: &context, state: &state)
        case let .approveRecovery(body): try approveRecovery(body, context: &context, state: &state)
        case let .cancelRecovery(body): try cancelRecovery(body, context: &context, state: &state)
        case let .completeRecovery(body): try completeRecovery(body, context: &context, state: &state)
        case let .proposeCorrection(body): try proposeCorrection(body, context: &context, state: &state)
        case let .approveCorrection(body): try approveCorrection(body, context: &context, state: &state)
        case let .setAccessCode(body): try setAccessCode(body, context: &context, state: &state)
        case let .proposeGovernance(body): try proposeGovernance(body, context: &context, state: &state)
        case let .approveGovernance(body): try approveGovernance(body, context: &context, state: &state)
        case let .imposeArrest(body): try imposeArrest(body, context: &context, state: &state)
        case let .liftArrest(body): try liftArrest(body, context: &context, state: &state)
        }
    }
}

/// What an action knows while it runs.
struct ExecutionContext {
    let id: TransactionID
    let payload: TransactionPayload
    /// Every party that signed, the signer first.
    let signers: [PartyID]
    let provenKeys: [KeyID]
    let blockTime: Timestamp
    var events: [LedgerEvent] = []

    var signer: PartyID { payload.signer }

    mutating func emit(_ event: LedgerEvent) { events.append(event) }
}

extension WorkingState {
    func party(_ id: PartyID) throws -> PartyRecord {
        guard let record = try record(PartyRecord.self, RecordKey.party(id)) else {
            throw Rejection(.unknownParty, "no enrolled party \(id)")
        }
        return record
    }

    func account(_ id: PartyID) throws -> Account {
        try record(Account.self, RecordKey.account(id)) ?? .empty
    }

    func passport(_ number: CadastralNumber) throws -> Passport {
        guard let passport = try record(Passport.self, RecordKey.property(number)) else {
            throw Rejection(.unknownProperty, "no registered property \(number)")
        }
        return passport
    }

    /// Saves a passport, keeps every owner's holdings index in step with its owners, and, when
    /// the ownership changed, voids every consent given for the ownership before: the listing is
    /// withdrawn, the former owners' access code cleared, and every open deed on the property (but `settling`,
    /// the deed whose settlement this is) closed as `voided` with its holds released.
    ///
    /// Every change of a passport goes through here, so no path can leave a stale consent behind.
    mutating func save(_ passport: Passport, context: inout ExecutionContext, settling: TransactionID? = nil) throws {
        var passport = passport
        guard passport.restrictions.count(where: { $0.kind == .pledge }) <= Limits.pledgesPerPropertyMax else {
            throw Rejection(.limitExceeded, "a property carries at most \(Limits.pledgesPerPropertyMax) pledges")
        }
        guard passport.restrictions.count(where: { $0.kind == .arrest }) <= Limits.arrestsPerPropertyMax else {
            throw Rejection(.limitExceeded, "a property carries at most \(Limits.arrestsPerPropertyMax) arrests")
        }
        // The passport lists the title document and the latest others; the rest stay in the
        // transactions that cited them. So no number of sales or orders can block the next one.
        if passport.documents.count > Limits.documentsPerPropertyMax {
            passport.documents = [passport.documents[0]] + passport.documents.suffix(Limits.documentsPerPropertyMax - 1)
        }
        let previous = try record(Passport.self, RecordKey.property(passport.cadastralNumber))
        let before = Set(previous?.owners.map(\.party) ?? [])
        let after = Set(passport.owners.map(\.party))
        for party in before.symmetricDifference(after).sorted() {
            var holdings = Set(try record([CadastralNumber].self, RecordKey.holdings(party)) ?? [])
            if after.contains(party) { holdings.insert(passport.cadastralNumber) } else { holdings.remove(passport.cadastralNumber) }
            guard holdings.count <= Limits.holdingsPerPartyMax else {
                throw Rejection(.limitExceeded, "\(party) would own shares of more than \(Limits.holdingsPerPartyMax) properties")
            }
            put(holdings.sorted(), at: RecordKey.holdings(party))
        }
        if let previous, previous.owners != passport.owners {
            try voidConsents(on: passport.cadastralNumber, formerOwners: previous.owners.map(\.party), settling: settling, context: &context)
        }
        put(passport, at: RecordKey.property(passport.cadastralNumber))
    }

    /// What a change of ownership does to consents given for the ownership before it.
    private mutating func voidConsents(on number: CadastralNumber, formerOwners: [PartyID], settling: TransactionID?, context: inout ExecutionContext) throws {
        try withdrawOffers(on: number, owners: formerOwners, context: &context)
        for id in try record([TransactionID].self, RecordKey.propertyDeeds(number)) ?? [] where id != settling {
            guard var deed = try record(Deed.self, RecordKey.deed(id)), deed.status == .open else { continue }
            try close(&deed, as: .voided)
            context.emit(LedgerEvent("deed.voided", parties: deed.parties, properties: [number], deed: id))
        }
    }

    /// Withdraws the property's listing and clears its access code, telling `owners`.
    mutating func withdrawOffers(on number: CadastralNumber, owners: [PartyID], context: inout ExecutionContext) throws {
        if try record(Listing.self, RecordKey.listing(number)) != nil {
            remove(RecordKey.listing(number))
            context.emit(LedgerEvent("sale.withdrawn", parties: owners, properties: [number]))
        }
        if try record(AccessCode.self, RecordKey.accessCode(number)) != nil {
            remove(RecordKey.accessCode(number))
            context.emit(LedgerEvent("property.access_code_cleared", parties: owners, properties: [number]))
        }
    }

    /// Closes an open deed without settling it, releasing every hold.
    mutating func close(_ deed: inout Deed, as status: Deed.Status) throws {
        for hold in deed.holds {
            var account = try account(hold.party)
            account.held = try account.held.minus(hold.amount)
            account.balance = try account.balance.plus(hold.amount)
            put(account, at: RecordKey.account(hold.party))
        }
        deed.holds = []
        deed.status = status
        put(deed, at: RecordKey.deed(deed.id))
        try removeFromOpen(deed)
    }

    /// Takes a deed that is no longer open out of both open-deed indexes.
    mutating func removeFromOpen(_ deed: Deed) throws {
        for key in [RecordKey.openDeeds, RecordKey.propertyDeeds(deed.cadastralNumber)] {
            var open = try record([TransactionID].self, key) ?? []
            guard let index = open.firstIndex(of: deed.id) else { continue }
            open.remove(at: index)
            if open.isEmpty && key != RecordKey.openDeeds { remove(key) } else { put(open, at: key) }
        }
    }

    /// Adds a newly open deed to both open-deed indexes, within their limits.
    mutating func addToOpen(_ deed: Deed) throws {
        for (key, limit) in [(RecordKey.openDeeds, Limits.openDeedsMax), (RecordKey.propertyDeeds(deed.cadastralNumber), Limits.openDeedsPerPropertyMax)] {
            var open = try record([TransactionID].self, key) ?? []
            guard !open.contains(deed.id) else { continue }
            guard open.count < limit else {
                throw Rejection(.limitExceeded, key == RecordKey.openDeeds
                    ? "the ledger holds at most \(limit) open deeds at once; try again later"
                    : "\(deed.cadastralNumber) has \(limit) open deeds already; its owners can cancel those they do not want")
            }
            open.append(deed.id)
            open.sort()
            put(open, at: key)
        }
    }

    func requireRole(_ role: Role, of id: PartyID, for what: String) throws {
        guard try party(id).has(role) else { throw Rejection(.roleRequired, "\(what) needs the \(role.rawValue) role, which \(id) does not have") }
    }
}
