public import TamgaCore
public import TamgaLedger

/// Random sequences of transactions from every family, signed by random parties (many without
/// the right), with values at the extremes, run against the ledger with its promises checked
/// after every transaction:
///
/// - the ledger does not trap (a trap ends the process, and with it the run);
/// - a property's owners change only by a deed every losing owner signed in its current terms
///   (a purchase: a listing by exactly the owners of that moment), or by a court's order;
/// - supply = balances + holds + the undistributed fee pool; the holds are exactly those of
///   open deeds;
/// - every property's shares sum to exactly 1, each owner once with a positive share;
/// - every record is within its limit;
/// - a second execution of the same blocks, with the decoded-record cache a node uses, gives
///   the same receipts and the same state root.
///
/// The same seed gives the same run on every machine.
public struct LedgerAdversary {
    public struct Report: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var transactions = 0
        public var committed = 0
        /// Rejections by code.
        public var rejections: [String: Int] = [:]
        public var ownershipChanges = 0
        public var violations: [String] = []

        public var description: String {
            let codes = rejections.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return "seed \(seed): \(transactions) transactions, \(committed) committed, \(ownershipChanges) ownership changes"
                + (violations.isEmpty ? "" : "; VIOLATIONS: " + violations.joined(separator: "; ")) + (codes.isEmpty ? "" : " [\(codes)]")
        }
    }

    static let chain = try! ChainID("tamga-adversary")
    static let authorities: [(String, [Role])] = [
        ("registrar-1", [.registrar]), ("registrar-2", [.registrar]), ("notary-1", [.notary]), ("bank-1", [.bank]), ("court-1", [.court]),
        ("bailiff-1", [.enforcement]), ("issuer", [.tokenIssuer]), ("operator-1", [.validatorOperator]), ("operator-2", [.validatorOperator]),
        ("operator-3", [.validatorOperator]),
    ]
    static let citizens = ["citizen-1", "citizen-2", "citizen-3", "citizen-4", "citizen-5"]
    static let numbers = ["09-001-001-001", "09-001-001-002", "09-001-001-003", "09-001-001-004"]
    static let largest = Limits.shareDenominatorMax

    private var random: SplitMix64
    private var keys: [PartyID: SigningKey] = [:]
    private var nonces: [PartyID: UInt64] = [:]
    private var parties: [PartyID] = []
    private let ledger = Ledger(chainID: chain, verifier: RememberingVerifier())
    private let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
    private let twin = AuthenticatedMap(store: InMemoryTreeNodeStore())
    private let twinCache = LedgerStateCache()
    private var version: UInt64 = 1
    private var time: UInt64 = 1_764_000_000_000
    private var deeds: [TransactionID] = []
    private var pledges: [TransactionID] = []
    private var arrests: [(CadastralNumber, TransactionID)] = []
    private var proposals: [TransactionID] = []
    private var recoveries: [TransactionID] = []
    private var report: Report

    public init(seed: UInt64) {
        random = SplitMix64(seed: seed)
        report = Report(seed: seed)
    }

    /// Runs `steps` transactions, one per block, after a setup of enrolments and registrations.
    public static func run(seed: UInt64, steps: Int) throws -> Report {
        var adversary = LedgerAdversary(seed: seed)
        try adversary.setUp()
        for _ in 0..<steps where adversary.report.violations.isEmpty { try adversary.step() }
        return adversary.report
    }

    // MARK: Setup

    private mutating func setUp() throws {
        var genesisParties: [Genesis.Party] = []
        for (offset, (name, roles)) in Self.authorities.enumerated() {
            let key = try SigningKey(seed: [UInt8](repeating: UInt8(offset + 1), count: 32))
            let id = try PartyID(name)
            keys[id] = key
            parties.append(id)
            genesisParties.append(Genesis.Party(id: id, name: name, roles: roles, keys: [key.publicKey], identityCommitment: .sha256(Array(name.utf8)),
                                                openingBalance: Tiyn(1_000_000)))
        }
        let updates = Genesis(parties: genesisParties, parameters: Parameters(minimumFee: Tiyn(1))).stateUpdates()
        try map.apply(updates, as: version)
        try twin.apply(updates, as: version)
        for (offset, name) in Self.citizens.enumerated() {
            let key = try SigningKey(seed: [UInt8](repeating: UInt8(100 + offset), count: 32))
            let id = try PartyID(name)
            keys[id] = key
            try execute(envelope("registrar-1", .enroll(Enroll(party: id, publicKey: key.publicKey, identityCommitment: .sha256(Array(name.utf8)), name: name)),
                                 cosigners: [key]))
            parties.append(id)
            // Balances from a few fees to a large part of what 64 bits hold.
            let amount = [UInt64(1_000), 20_000_000, 5_000_000, UInt64.max / 8, 300][offset]
            try execute(envelope("issuer", .mint(Mint(to: id, amount: Tiyn(amount), depositReference: .sha256([UInt8(offset)])))))
        }
        let ownerships: [[(String, Share)]] = [
            [("citizen-1", .whole)],
            [("citizen-2", try Share(1, 3)), ("citizen-3", try Share(2, 3))],
            [("citizen-4", try Share(Self.largest - 1, Self.largest)), ("citizen-5", try Share(1, Self.largest))],
            [("citizen-1", try Share(1, 2)), ("citizen-2", try Share(1, 4)), ("citizen-5", try Share(1, 4))],
        ]
        for (number, owners) in zip(Self.numbers, ownerships) {
            try execute(envelope("registrar-1", .registerProperty(RegisterProperty(
                cadastralNumber: try CadastralNumber(number), kind: "apartment", address: "Astana, \(number)", area: AreaHundredths(5_000), location: nil,
                owners: try owners.map { Ownership(party: try PartyID($0.0), share: $0.1) }, titleDocumentHash: .sha256(Array(number.utf8))))))
        }
        report = Report(seed: report.seed)
    }

    // MARK: One step

    private mutating func step() throws {
        let envelope = try nextTransaction()
        try execute(envelope)
    }

    private mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    private mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

    private mutating func anyParty() -> String { pick(parties).rawValue }
    private mutating func citizen() -> String { pick(Self.citizens) }
    private mutating func number() throws -> CadastralNumber { try CadastralNumber(pick(Self.numbers)) }

    private mutating func amount() -> Tiyn {
        Tiyn(pick([0, 1, 2, 99, 1_000, 4_999_000, UInt64.max / 8, UInt64.max / 2, UInt64.max - 1, UInt64.max, random.next() % 10_000_000]))
    }

    private mutating func share() -> Share {
        let n = Self.largest
        let candidates: [(UInt64, UInt64)] = [(1, 1), (1, 2), (1, 3), (2, 3), (1, 4), (n - 1, n), (1, n), (n / 2, n), (0, 1),
                                              (random.next() % n, n), (1, 999_999_999_989), (999_999_999_988, 999_999_999_989)]
        let (numerator, denominator) = pick(candidates)
        return (try? Share(numerator, denominator)) ?? .whole
    }

    /// The owners of a property now, or none.
    private func owners(_ number: CadastralNumber) throws -> [Ownership] {
        try LedgerQueries(state: MapSnapshot(map: map, version: version)).passport(number)?.owners ?? []
    }

    /// A signer: usually the party the rule wants, sometimes anyone at all.
    private mutating func signer(_ rightful: String) -> String { chance(70) ? rightful : anyParty() }

    private mutating func cosigners(for number: CadastralNumber) throws -> [SigningKey] {
        let owners = try owners(number).map(\.party)
        let chosen = chance(60) ? owners : [try PartyID(citizen())]
        return chosen.compactMap { keys[$0] }
    }

    private mutating func hash() -> Hash { .sha256(withUnsafeBytes(of: random.next()) { Array($0) }) }

    private mutating func nextTransaction() throws -> SignedEnvelope {
        let number = try number()
        let owners = try owners(number)
        let owner = owners.isEmpty ? citizen() : pick(owners).party.rawValue
        switch random.next() % 24 {
        case 0:
            return envelope(signer("issuer"), .mint(Mint(to: try PartyID(anyParty()), amount: amount(), depositReference: hash())))
        case 1:
            return envelope(signer("issuer"), .burn(Burn(amount: amount())))
        case 2:
            return envelope(citizen(), .transfer(Transfer(to: try PartyID(anyParty()), amount: amount())))
        case 3:
            return envelope(signer(owner), .list(ListProperty(cadastralNumber: number, price: amount())), cosigners: try cosigners(for: number))
        case 4:
            return envelope(signer(owner), .withdrawListing(WithdrawListing(cadastralNumber: number)))
        case 5, 6:
            let listed = try LedgerQueries(state: MapSnapshot(map: map, version: version)).listing(number)
            return envelope(citizen(), .buy(Buy(cadastralNumber: number, price: chance(80) ? (listed?.price ?? amount()) : amount())))
        case 7, 8:
            // A deed: sellers with shares they may or may not own, buyers with extreme shares and payments.
            let sellerCount = owners.isEmpty ? 1 : Int(random.next() % UInt64(owners.count)) + 1
            let sellers = chance(70) ? owners.prefix(sellerCount).map { Deed.Seller(party: $0.party, share: chance(80) ? $0.share : share()) }
                : [Deed.Seller(party: try PartyID(citizen()), share: share())]
            let sold = sellers.reduce(Share.none) { (try? $0.adding($1.share)) ?? $0 }
            let buyer = try PartyID(citizen())
            var buyers = [Deed.Buyer(party: buyer, share: chance(85) ? sold : share(), pays: chance(70) ? Tiyn(random.next() % 3_000_000 + 1) : amount())]
            if chance(20), let split = try? sold.subtracting(try Share(1, Self.largest)), !split.isZero {
                let other = try PartyID(citizen())
                buyers = [Deed.Buyer(party: buyer, share: split, pays: Tiyn(1)), Deed.Buyer(party: other, share: try Share(1, Self.largest), pays: amount())]
            }
            let financing = chance(15) ? Deed.Financing(bank: try PartyID(chance(80) ? "bank-1" : anyParty()), amount: amount(), documentHash: hash()) : nil
            let proposer = chance(50) ? buyer.rawValue : (sellers.first?.party.rawValue ?? citizen())
            let paymentBank = chance(20) ? try PartyID(chance(80) ? "bank-1" : anyParty()) : nil
            return envelope(signer(proposer), .proposeDeed(ProposeDeed(cadastralNumber: number, sellers: sellers, buyers: buyers, financing: financing,
                                                                    acceptedPledges: chance(50) ? pledges.suffix(2) : nil, paymentBank: paymentBank)))
        case 9, 10, 11:
            guard let id = deeds.last(where: { _ in chance(70) }) ?? deeds.last,
                  let deed = try LedgerQueries(state: MapSnapshot(map: map, version: version)).deed(id) else { return try fallback() }
            let party = chance(80) ? pick(deed.parties).rawValue : anyParty()
            return envelope(party, .signDeed(SignDeed(deed: id, termsHash: chance(90) ? deed.termsHash : hash())))
        case 12:
            guard let id = deeds.last else { return try fallback() }
            return envelope(signer("notary-1"), .attestDeed(DeedReference(deed: id)))
        case 13:
            guard let id = deeds.last else { return try fallback() }
            guard chance(50), let deed = try LedgerQueries(state: MapSnapshot(map: map, version: version)).deed(id) else {
                return envelope(anyParty(), .cancelDeed(DeedReference(deed: id)))
            }
            // A bank confirms a payment: the deed's own bank or another, early or on time, for its terms or others.
            let bank = chance(80) ? (deed.paymentBank?.rawValue ?? "bank-1") : anyParty()
            return envelope(signer(bank), .confirmPayment(ConfirmPayment(deed: id, termsHash: chance(90) ? deed.termsHash : hash(), paymentOrderHash: hash())))
        case 14:
            return envelope(signer("bank-1"), .proposePledge(ProposePledge(cadastralNumber: number, loanAmount: amount(), documents: [hash()])))
        case 15:
            guard let id = pledges.last else { return try fallback() }
            return envelope(chance(80) ? owner : anyParty(), .signPledge(PledgeReference(pledge: id)))
        case 16:
            guard let id = pledges.last else { return try fallback() }
            return envelope(signer(pick(["registrar-1", "registrar-2"])), chance(70) ? .registerPledge(PledgeReference(pledge: id))
                            : chance(50) ? .releasePledge(PledgeReference(pledge: id)) : .rejectPledge(RejectPledge(pledge: id, reason: "documents incomplete")))
        case 17:
            guard let id = deeds.last else { return try fallback() }
            return envelope(signer("court-1"), .invalidateDeed(InvalidateDeed(deed: id, orderHash: hash())))
        case 18:
            let from = owners.prefix(Int(random.next() % 2) + 1).map { Ownership(party: $0.party, share: chance(80) ? $0.share : share()) }
            let given = from.reduce(Share.none) { (try? $0.adding($1.share)) ?? $0 }
            return envelope(signer("court-1"), .orderTransfer(OrderTransfer(cadastralNumber: number, from: from,
                                                                          to: [Ownership(party: try PartyID(citizen()), share: chance(85) ? given : share())], orderHash: hash())))
        case 19:
            return envelope(signer(pick(["bailiff-1", "court-1"])), .imposeArrest(ImposeArrest(cadastralNumber: number, orderHash: hash())))
        case 20:
            guard let (arrested, id) = arrests.last else { return try fallback() }
            return envelope(signer(pick(["bailiff-1", "court-1"])), .liftArrest(LiftArrest(cadastralNumber: arrested, arrest: id, orderHash: hash())))
        case 21:
            let code = AccessCode(salt: hash(), codeHash: hash())
            return envelope(signer(owner), .setAccessCode(SetAccessCode(cadastralNumber: number, code: chance(80) ? code : nil)))
        case 22:
            let change: GovernanceChange = switch random.next() % 4 {
            case 0: .setParameters(Parameters(minimumFee: Tiyn(pick([0, 1, 100, UInt64.max])), notaryAttestationRequired: chance(30),
                                              deedLifetimeMillis: pick([0, 1, 3_600_000, 7 * 86_400_000, UInt64.max]),
                                              recoveryTimeLockMillis: pick([0, 3_600_000, UInt64.max])))
            case 1: .grantRole(party: try PartyID(citizen()), role: pick(Role.allCases))
            case 2: .revokeRole(party: try PartyID(anyParty()), role: pick(Role.allCases))
            default: .setValidators([])
            }
            return envelope(signer(pick(["operator-1", "operator-2"])), .proposeGovernance(ProposeGovernance(change: change)))
        default:
            guard let id = proposals.last else { return try fallback() }
            return envelope(signer(pick(["operator-1", "operator-2", "operator-3"])), .approveGovernance(GovernanceReference(proposal: id)))
        }
    }

    private mutating func fallback() throws -> SignedEnvelope {
        envelope(citizen(), .transfer(Transfer(to: try PartyID(citizen()), amount: Tiyn(1))))
    }

    private mutating func envelope(_ signer: String, _ action: Action, cosigners: [SigningKey] = []) -> SignedEnvelope {
        let id = try! PartyID(signer)
        let payload = TransactionPayload(chainID: Self.chain, signer: id, nonce: (nonces[id] ?? 0) + 1, fee: Tiyn(1),
                                         expiresAt: Timestamp(millisecondsSinceEpoch: chance(10) ? UInt64.max : time + 3_600_000 * 24 * 30), action: action)
        let signers = [keys[id]!] + cosigners.filter { $0.publicKey != keys[id]!.publicKey }
        return try! SignedEnvelope.signing(payload.encoded(), with: Array(signers.prefix(Limits.envelopeSignaturesMax)))
    }

    // MARK: Execution and checks

    private mutating func execute(_ envelope: SignedEnvelope) throws {
        // Time moves by up to ten days, so deeds expire and time locks open.
        time += chance(10) ? 10 * 86_400_000 : random.next() % 60_000 + 1
        let blockTime = Timestamp(millisecondsSinceEpoch: time)
        let before = MapSnapshot(map: map, version: version)
        let prepared = [PreparedTransaction(envelope)]
        let outcome = try ledger.execute(prepared, blockTime: blockTime, state: before)
        let twinRoot = try twin.rootHash(at: version)
        let again = try ledger.execute(prepared, blockTime: blockTime, state: MapSnapshot(map: twin, version: version), cache: (twinCache, twinRoot))
        let receipt = outcome.receipts[0]
        if receipt != again.receipts[0] { report.violations.append("the two executions gave different receipts: \(receipt) and \(again.receipts[0])") }
        for update in outcome.updates where (update.value?.count ?? 0) > Limits.stateValueBytesMax {
            report.violations.append("record \(String(decoding: update.key, as: UTF8.self)) is \(update.value!.count) bytes")
        }
        let oldVersion = version
        version += 1
        let root = try map.apply(outcome.updates, as: version)
        let secondRoot = try twin.apply(again.updates, as: version)
        twinCache.advance(to: secondRoot)
        if root != secondRoot { report.violations.append("the two executions gave different roots") }
        if let payload = try? TransactionPayload.decode(envelope.payload), receipt.isCommitted || !isBeforeExecution(receipt) {
            nonces[payload.signer] = payload.nonce
        }
        report.transactions += 1
        if receipt.isCommitted {
            report.committed += 1
            if receipt.events.contains(where: { $0.kind == "deed.opened" }) { deeds.append(receipt.transaction) }
            if receipt.events.contains(where: { $0.kind == "pledge.proposed" }) { pledges.append(receipt.transaction) }
            if let arrest = receipt.events.first(where: { $0.kind == "arrest.imposed" }) { arrests.append((arrest.properties[0], receipt.transaction)) }
            if receipt.events.contains(where: { $0.kind == "governance.proposed" }) { proposals.append(receipt.transaction) }
            if receipt.events.contains(where: { $0.kind == "recovery.requested" }) { recoveries.append(receipt.transaction) }
        } else {
            report.rejections[receipt.rejectionCode ?? "", default: 0] += 1
        }
        try check(receipt, envelope: envelope, before: LedgerQueries(state: MapSnapshot(map: map, version: oldVersion)),
                  after: LedgerQueries(state: MapSnapshot(map: map, version: version)))
    }

    private func isBeforeExecution(_ receipt: Receipt) -> Bool {
        guard let code = receipt.rejectionCode, let reason = Rejection.Code(rawValue: code) else { return false }
        return Rejection(reason, "").isBeforeExecution
    }

    private mutating func check<S: LedgerStateReading>(_ receipt: Receipt, envelope: SignedEnvelope, before: LedgerQueries<S>, after: LedgerQueries<S>) throws {
        // Supply: every tiyn is in a balance, a hold or the fee pool.
        var total = try after.state.value(forKey: RecordKey.feePool).map { UInt64(String(decoding: $0, as: UTF8.self)) ?? 0 } ?? 0
        var held: UInt64 = 0
        for party in parties {
            let account = try after.account(party)
            let (partial, o1) = total.addingReportingOverflow(account.balance.rawValue)
            let (sum, o2) = partial.addingReportingOverflow(account.held.rawValue)
            total = sum
            held = held &+ account.held.rawValue
            if o1 || o2 { report.violations.append("balances overflow 64 bits") }
        }
        if total != (try after.supply()).rawValue { report.violations.append("supply \(try after.supply()) ≠ balances + holds + fees \(total)") }
        var heldByDeeds: UInt64 = 0
        for id in deeds {
            guard let deed = try after.deed(id) else { continue }
            if deed.status == .open { heldByDeeds &+= deed.holds.reduce(0) { $0 &+ $1.amount.rawValue } } else if !deed.holds.isEmpty {
                report.violations.append("closed deed \(id) still holds tokens")
            }
        }
        if held != heldByDeeds { report.violations.append("held \(held) ≠ holds of open deeds \(heldByDeeds)") }

        let payload = try? TransactionPayload.decode(envelope.payload)
        for text in Self.numbers {
            let number = try CadastralNumber(text)
            guard let passport = try after.passport(number) else { continue }
            let parties = passport.owners.map(\.party)
            if !Share.sumIsWhole(passport.owners.map(\.share)) || passport.owners.contains(where: { $0.share.isZero }) || parties != parties.sorted() || Set(parties).count != parties.count {
                report.violations.append("\(number)'s owners are not whole, positive and sorted once: \(passport.owners)")
            }
            if passport.restrictions.count(where: { $0.kind == .pledge }) > Limits.pledgesPerPropertyMax
                || passport.restrictions.count(where: { $0.kind == .arrest }) > Limits.arrestsPerPropertyMax
                || passport.documents.count > Limits.documentsPerPropertyMax {
                report.violations.append("\(number)'s passport is past its limits")
            }
            let previous = try before.passport(number)?.owners ?? []
            guard previous != passport.owners else { continue }
            report.ownershipChanges += 1
            guard receipt.isCommitted, let payload else {
                report.violations.append("\(number) changed owners in a rejected transaction")
                continue
            }
            try checkConsent(number, from: previous, to: passport.owners, receipt: receipt, payload: payload, before: before, after: after)
        }
    }

    /// An ownership change is lawful only by a court's order, or by a settled deed that every
    /// owner giving up a share signed, in the deed's terms, while an owner.
    private mutating func checkConsent<S: LedgerStateReading>(_ number: CadastralNumber, from previous: [Ownership], to current: [Ownership], receipt: Receipt,
                                                              payload: TransactionPayload, before: LedgerQueries<S>, after: LedgerQueries<S>) throws {
        switch payload.action {
        case .orderTransfer, .invalidateDeed:
            if try before.party(payload.signer)?.has(.court) != true { report.violations.append("\(payload.signer), no court, moved \(number)") }
            return
        default:
            break
        }
        guard let settled = receipt.events.first(where: { $0.kind == "deed.settled" && $0.properties == [number] }), let id = settled.deed,
              let deed = try after.deed(id), deed.status == .settled else {
            report.violations.append("\(number) changed owners without a court order or a settled deed (\(payload.action.typeName))")
            return
        }
        let losers = previous.filter { old in current.first { $0.party == old.party }.map { $0.share < old.share } ?? true }.map(\.party)
        for party in losers where !(deed.sellers.contains { $0.party == party } && deed.signedBy.contains(party)) {
            report.violations.append("\(party) lost a share of \(number) by deed \(id) without signing it as a seller")
        }
        for seller in deed.sellers {
            guard let owned = previous.first(where: { $0.party == seller.party })?.share, !(owned < seller.share) else {
                report.violations.append("deed \(id) sold \(seller.share) of \(number) that \(seller.party) did not own"); continue
            }
        }
        if case .buy = payload.action {
            // A purchase signs for the owners only through their listing, made by exactly these owners.
            let listing = try before.listing(number)
            if listing?.owners != previous { report.violations.append("a purchase of \(number) used a listing not made by its owners \(previous)") }
        }
    }
}

/// Verifies each signature once and remembers the verdict, as a node's mempool does, so that the
/// second execution of a block does not verify again.
final class RememberingVerifier: SignatureVerifying {
    private var verdicts: [[UInt8]: Bool] = [:]

    func isValid(_ signature: Signature, by key: PublicKey, for message: [UInt8]) -> Bool {
        let entry = signature.bytes + Array(key.description.utf8) + Hash.sha256(message).bytes
        if let known = verdicts[entry] { return known }
        let verdict = key.isValidSignature(signature, for: message)
        verdicts[entry] = verdict
        return verdict
    }
}
