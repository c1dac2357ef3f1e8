import TamgaCore
import TamgaLedger
import Testing

let chain = try! ChainID("tamga-test")

func party(_ text: String) -> PartyID { try! PartyID(text) }
func cadastral(_ text: String) -> CadastralNumber { try! CadastralNumber(text) }
func share(_ text: String) -> Share { try! Share(parsing: text) }
func documentHash(_ text: String) -> Hash { .sha256(Array(text.utf8)) }

/// A ledger on an in-memory authenticated map, one block per call, with the authorities of a
/// small registry and helpers to sign as any of them.
struct LedgerHarness {
    let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
    let ledger = Ledger(chainID: chain, verifier: DirectVerifier())
    var version: UInt64 = 1
    var time: UInt64 = 1_764_000_000_000
    var keys: [PartyID: SigningKey] = [:]
    var nonces: [PartyID: UInt64] = [:]
    /// Every party and property created, for the invariant checks.
    var parties: [PartyID] = []
    var properties: [CadastralNumber] = []
    /// When set, blocks run with a decoded-record cache carried from block to block, as a node runs them.
    var cache: LedgerStateCache?

    static let authorities: [(String, [Role])] = [
        ("registrar-1", [.registrar]), ("registrar-2", [.registrar]), ("notary-1", [.notary]), ("bank-1", [.bank]),
        ("court-1", [.court]), ("court-2", [.court]), ("bailiff-1", [.enforcement]), ("bailiff-2", [.enforcement]),
        ("issuer", [.tokenIssuer]), ("operator-1", [.validatorOperator]), ("operator-2", [.validatorOperator]),
    ]

    init(parameters: Parameters = Parameters(minimumFee: Tiyn(10))) {
        var genesisParties: [Genesis.Party] = []
        for (offset, (name, roles)) in Self.authorities.enumerated() {
            let key = try! SigningKey(seed: [UInt8](repeating: UInt8(offset + 1), count: 32))
            keys[party(name)] = key
            parties.append(party(name))
            genesisParties.append(Genesis.Party(id: party(name), name: name, roles: roles, keys: [key.publicKey], identityCommitment: documentHash(name),
                                                openingBalance: Tiyn(100_000)))
        }
        try! map.apply(Genesis(parties: genesisParties, parameters: parameters).stateUpdates(), as: version)
    }

    var state: MapSnapshot<InMemoryTreeNodeStore> { MapSnapshot(map: map, version: version) }

    /// A signed envelope for `action` by `signer`, with extra co-signers, using the signer's next nonce.
    mutating func envelope(_ signer: String, _ action: Action, fee: UInt64 = 10, cosigners: [SigningKey] = [], chainID: ChainID = chain,
                           nonce: UInt64? = nil, expiresIn: UInt64 = 60_000) -> SignedEnvelope {
        let id = party(signer)
        let next = nonce ?? (nonces[id, default: 0] + 1)
        let payload = TransactionPayload(chainID: chainID, signer: id, nonce: next, fee: Tiyn(fee),
                                         expiresAt: Timestamp(millisecondsSinceEpoch: time + expiresIn), action: action)
        let signers = [keys[id] ?? SigningKey()] + cosigners
        return try! SignedEnvelope.signing(payload.encoded(), with: signers)
    }

    /// Executes one block and applies it; returns the receipts.
    @discardableResult
    mutating func block(_ transactions: [SignedEnvelope], advancing millis: UInt64 = 1_000) throws -> [Receipt] {
        time += millis
        let prepared = transactions.map(PreparedTransaction.init)
        let root = try map.rootHash(at: version)
        let outcome = try ledger.execute(prepared, blockTime: Timestamp(millisecondsSinceEpoch: time), state: state, cache: cache.map { ($0, root) })
        version += 1
        let newRoot = try map.apply(outcome.updates, as: version)
        cache?.advance(to: newRoot)
        for (envelope, receipt) in zip(transactions, outcome.receipts) where receipt.rejectionCode == nil || !Self.isBeforeExecution(receipt) {
            if let payload = try? TransactionPayload.decode(envelope.payload) { nonces[payload.signer] = payload.nonce }
        }
        return outcome.receipts
    }

    static func isBeforeExecution(_ receipt: Receipt) -> Bool {
        guard let code = receipt.rejectionCode, let reason = Rejection.Code(rawValue: code) else { return false }
        return Rejection(reason, "").isBeforeExecution
    }

    /// One transaction in its own block.
    @discardableResult
    mutating func submit(_ signer: String, _ action: Action, fee: UInt64 = 10, cosigners: [SigningKey] = []) throws -> Receipt {
        let envelope = envelope(signer, action, fee: fee, cosigners: cosigners)
        return try block([envelope])[0]
    }

    /// Enrolls a citizen through a registrar and gives it tokens.
    mutating func enroll(_ name: String, tokens: UInt64 = 0) throws {
        let key = try SigningKey(seed: Array(Hash.sha256(Array(name.utf8)).bytes))
        keys[party(name)] = key
        let receipt = try submit("registrar-1", .enroll(Enroll(party: party(name), publicKey: key.publicKey,
                                                               identityCommitment: documentHash("iin-\(name)"), name: name)), cosigners: [key])
        #expect(receipt.isCommitted, "\(receipt)")
        parties.append(party(name))
        if tokens > 0 {
            let minted = try submit("issuer", .mint(Mint(to: party(name), amount: Tiyn(tokens), depositReference: documentHash("deposit-\(name)"))))
            #expect(minted.isCommitted, "\(minted)")
        }
    }

    mutating func register(_ number: String, owners: [(String, String)]) throws {
        let receipt = try submit("registrar-1", .registerProperty(RegisterProperty(
            cadastralNumber: cadastral(number), kind: "apartment", address: "Almaty, Abay avenue 10, apt \(number.suffix(3))",
            area: AreaHundredths(8_450), location: nil,
            owners: owners.map { Ownership(party: party($0.0), share: share($0.1)) }, titleDocumentHash: documentHash("title-\(number)"))))
        #expect(receipt.isCommitted, "\(receipt)")
        properties.append(cadastral(number))
    }

    func account(_ name: String) throws -> Account {
        try state.value(forKey: RecordKey.account(party(name))).map { try JSONDecoderHelper.decode(Account.self, $0) } ?? Account()
    }

    func passport(_ number: String) throws -> Passport? {
        try state.value(forKey: RecordKey.property(cadastral(number))).map { try JSONDecoderHelper.decode(Passport.self, $0) }
    }

    func deed(_ id: TransactionID) throws -> Deed? {
        try state.value(forKey: RecordKey.deed(id)).map { try JSONDecoderHelper.decode(Deed.self, $0) }
    }

    func owners(_ number: String) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: (try passport(number)?.owners ?? []).map { ($0.party.rawValue, $0.share.description) })
    }

    /// DESIGN.md's invariants: supply = balances + holds (+ the undistributed fee pool); every
    /// property's shares sum to exactly 1; a hold exists only for an open deed.
    func checkInvariants() throws {
        let supply = try state.value(forKey: RecordKey.supply).map { try JSONDecoderHelper.decode(Tiyn.self, $0) } ?? .zero
        let pool = try state.value(forKey: RecordKey.feePool).map { try JSONDecoderHelper.decode(Tiyn.self, $0) } ?? .zero
        var total = pool
        var held = Tiyn.zero
        for id in parties {
            let account = try account(id.rawValue)
            total += account.balance + account.held
            held += account.held
        }
        #expect(total == supply, "supply \(supply) ≠ balances + holds + fee pool \(total)")
        for number in properties {
            let passport = try #require(try passport(number.rawValue))
            #expect(Share.sumIsWhole(passport.owners.map(\.share)), "shares of \(number) do not sum to 1")
        }
        let open = try state.value(forKey: Array("deeds/open".utf8)).map { try JSONDecoderHelper.decode([TransactionID].self, $0) } ?? []
        var heldByDeeds = Tiyn.zero
        for id in open {
            let deed = try #require(try deed(id))
            #expect(deed.status == .open)
            heldByDeeds += deed.holds.reduce(Tiyn.zero) { $0 + $1.amount }
        }
        #expect(held == heldByDeeds, "held \(held) ≠ holds of open deeds \(heldByDeeds)")
    }
}

import Foundation

enum JSONDecoderHelper {
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(bytes))
    }
}
