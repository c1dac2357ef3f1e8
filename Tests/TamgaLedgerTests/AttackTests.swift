import TamgaCore
import TamgaLedger
import Testing

/// The six weaknesses of a centralized register, and other abuse: each is refused with its code,
/// and nothing changes but the offender's nonce and fee (or nothing at all, before execution).
@Suite struct AttackTests {
    static func prepared() throws -> LedgerHarness {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 1_000)
        try ledger.enroll("owner-b", tokens: 1_000)
        try ledger.enroll("buyer-c", tokens: 5_000_000)
        try ledger.register("05-055-005-005", owners: [("owner-a", "1/2"), ("owner-b", "1/2")])
        return ledger
    }

    /// Runs one transaction and checks that only the signer's nonce, balance and the fee pool moved.
    static func expectRefusal(_ ledger: inout LedgerHarness, _ envelope: SignedEnvelope, code: String, changesNonce: Bool = true) throws {
        let before = try snapshot(ledger)
        let receipt = try ledger.block([envelope])[0]
        #expect(receipt.rejectionCode == code, "\(receipt)")
        let after = try snapshot(ledger)
        var allowed: Set<[UInt8]> = []
        if changesNonce {
            let signer = try TransactionPayload.decode(envelope.payload).signer
            allowed = Set([RecordKey.nonce(signer), RecordKey.account(signer), RecordKey.feePool] + operatorAccounts)
        }
        for key in Set(before.keys).union(after.keys) where !allowed.contains(key) {
            #expect(before[key] == after[key], "\(String(decoding: key, as: UTF8.self)) changed")
        }
        try ledger.checkInvariants()
    }

    /// Fees are shared among the validator operators at the end of each block.
    static let operatorAccounts = [RecordKey.account(party("operator-1")), RecordKey.account(party("operator-2"))]

    static func snapshot(_ ledger: LedgerHarness) throws -> [[UInt8]: [UInt8]] {
        var values: [[UInt8]: [UInt8]] = [:]
        var keys = ledger.parties.flatMap { [RecordKey.party($0), RecordKey.account($0), RecordKey.nonce($0)] } + ledger.properties.flatMap { [RecordKey.property($0), RecordKey.listing($0)] }
        keys += [RecordKey.supply, RecordKey.feePool, Array("deeds/open".utf8)]
        for key in keys { values[key] = try ledger.state.value(forKey: key) }
        return values
    }

    @Test func aRegistrarCannotChangeAnOwner() throws {
        var ledger = try Self.prepared()
        // A registrar cannot re-register a property with new owners…
        let reRegister = ledger.envelope("registrar-1", .registerProperty(RegisterProperty(
            cadastralNumber: cadastral("05-055-005-005"), kind: "apartment", address: "forged", area: AreaHundredths(1), location: nil,
            owners: [Ownership(party: party("registrar-1"), share: .whole)], titleDocumentHash: documentHash("forged"))))
        try Self.expectRefusal(&ledger, reRegister, code: "property.exists")
        // …nor write a deed that moves the property without being one of its parties.
        let deed = ledger.envelope("registrar-1", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral("05-055-005-005"),
            sellers: [Deed.Seller(party: party("owner-a"), share: share("1/2")), Deed.Seller(party: party("owner-b"), share: share("1/2"))],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: .whole, pays: Tiyn(1))])))
        try Self.expectRefusal(&ledger, deed, code: "deed.not_a_party")
        #expect(try ledger.owners("05-055-005-005") == ["owner-a": "1/2", "owner-b": "1/2"])
    }

    @Test func aNotaryCannotRegisterADealTheOwnersDidNotSign() throws {
        var ledger = try Self.prepared()
        let deed = ledger.envelope("notary-1", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral("05-055-005-005"),
            sellers: [Deed.Seller(party: party("owner-a"), share: share("1/2")), Deed.Seller(party: party("owner-b"), share: share("1/2"))],
            buyers: [Deed.Buyer(party: party("notary-1"), share: .whole, pays: Tiyn(1))])))
        // The notary may propose a deed in which it buys, but it stays open: the owners never sign.
        let receipt = try ledger.block([deed])[0]
        #expect(receipt.isCommitted)
        let attest = ledger.envelope("notary-1", .attestDeed(DeedReference(deed: receipt.transaction)))
        try Self.expectRefusal(&ledger, attest, code: "deed.invalid")
        #expect(try ledger.owners("05-055-005-005") == ["owner-a": "1/2", "owner-b": "1/2"])
        // And one co-owner cannot list the property alone.
        let list = ledger.envelope("owner-a", .list(ListProperty(cadastralNumber: cadastral("05-055-005-005"), price: Tiyn(1))))
        try Self.expectRefusal(&ledger, list, code: "sale.owner_signature_missing")
    }

    @Test func aPartyCannotPresentATitleItDoesNotHold() throws {
        var ledger = try Self.prepared()
        let list = ledger.envelope("buyer-c", .list(ListProperty(cadastralNumber: cadastral("05-055-005-005"), price: Tiyn(1))))
        try Self.expectRefusal(&ledger, list, code: "sale.not_an_owner")
        // Selling more than one's share.
        let deed = ledger.envelope("owner-a", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral("05-055-005-005"), sellers: [Deed.Seller(party: party("owner-a"), share: share("2/3"))],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: share("2/3"), pays: Tiyn(100))])))
        try Self.expectRefusal(&ledger, deed, code: "deed.shares_exceed_ownership")
    }

    @Test func anEmployeeCannotLiftAnArrestItDidNotImpose() throws {
        var ledger = try Self.prepared()
        let arrest = try ledger.submit("bailiff-1", .imposeArrest(ImposeArrest(cadastralNumber: cadastral("05-055-005-005"), orderHash: documentHash("order-1"))))
        #expect(arrest.isCommitted)
        #expect(arrest.events.first?.parties.contains(party("owner-a")) == true)
        for intruder in ["bailiff-2", "registrar-1", "owner-a"] {
            let lift = ledger.envelope(intruder, .liftArrest(LiftArrest(cadastralNumber: cadastral("05-055-005-005"), arrest: arrest.transaction, orderHash: documentHash("x"))))
            try Self.expectRefusal(&ledger, lift, code: "arrest.not_the_imposer")
        }
        // Selling an arrested property fails at every step.
        let list = ledger.envelope("owner-a", .list(ListProperty(cadastralNumber: cadastral("05-055-005-005"), price: Tiyn(1))),
                                   cosigners: [ledger.keys[party("owner-b")]!])
        try Self.expectRefusal(&ledger, list, code: "sale.property_arrested")
        // A court may lift an arrest a bailiff imposed.
        let lifted = try ledger.submit("court-1", .liftArrest(LiftArrest(cadastralNumber: cadastral("05-055-005-005"), arrest: arrest.transaction, orderHash: documentHash("order-2"))))
        #expect(lifted.isCommitted, "\(lifted)")
        #expect(try ledger.passport("05-055-005-005")?.restrictions.isEmpty == true)
        // Only courts and bailiffs impose arrests.
        let byCitizen = ledger.envelope("buyer-c", .imposeArrest(ImposeArrest(cadastralNumber: cadastral("05-055-005-005"), orderHash: documentHash("fake"))))
        try Self.expectRefusal(&ledger, byCitizen, code: "auth.role_required")
    }

    @Test func onlyTheHoldingBankReleasesAPledge() throws {
        var ledger = try Self.prepared()
        let proposed = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral("05-055-005-005"), loanAmount: Tiyn(1_000), documents: [documentHash("loan")])))
        let id = PledgeReference(pledge: proposed.transaction)
        #expect(try ledger.submit("owner-a", .signPledge(id)).isCommitted)
        #expect(try ledger.submit("owner-b", .signPledge(id)).isCommitted)
        #expect(try ledger.submit("registrar-1", .registerPledge(id)).isCommitted)
        for intruder in ["registrar-1", "court-1", "owner-a"] {
            try Self.expectRefusal(&ledger, ledger.envelope(intruder, .releasePledge(id)), code: "pledge.not_the_holder")
        }
        #expect(try ledger.passport("05-055-005-005")?.restrictions.map(\.kind) == [.pledge])
    }

    @Test func aCorrectionByOneRegistrarAloneChangesNothing() throws {
        var ledger = try Self.prepared()
        let proposed = try ledger.submit("registrar-1", .proposeCorrection(ProposeCorrection(cadastralNumber: cadastral("05-055-005-005"),
                                                                                             address: "somewhere else", documentHash: documentHash("memo"))))
        #expect(proposed.isCommitted)
        try Self.expectRefusal(&ledger, ledger.envelope("registrar-1", .approveCorrection(CorrectionReference(correction: proposed.transaction))),
                               code: "correction.same_registrar")
        #expect(try ledger.passport("05-055-005-005")?.address != "somewhere else")
        // Ownership cannot be "corrected" at all: the payload has no field for it.
        let json = #"{"chainId":"tamga-test","signer":"registrar-1","nonce":3,"fee":10,"expiresAt":9999999999999,"type":"property.correction.propose","body":{"cadastralNumber":"05-055-005-005","owners":[{"party":"registrar-1","share":"1"}],"documentHash":"0000000000000000000000000000000000000000000000000000000000000000"}}"#
        try Self.expectRefusal(&ledger, try SignedEnvelope.signing(Array(json.utf8), with: [ledger.keys[party("registrar-1")]!]),
                               code: "tx.malformed_payload", changesNonce: false)
    }

    @Test func replayedAndCrossChainTransactionsChangeNothing() throws {
        var ledger = try Self.prepared()
        let transfer = ledger.envelope("buyer-c", .transfer(Transfer(to: party("owner-a"), amount: Tiyn(500))))
        #expect(try ledger.block([transfer])[0].isCommitted)
        try Self.expectRefusal(&ledger, transfer, code: "tx.bad_nonce", changesNonce: false)
        let otherChain = ledger.envelope("buyer-c", .transfer(Transfer(to: party("owner-a"), amount: Tiyn(500))), chainID: try ChainID("other-chain"))
        try Self.expectRefusal(&ledger, otherChain, code: "tx.wrong_chain", changesNonce: false)
        let expired = ledger.envelope("buyer-c", .transfer(Transfer(to: party("owner-a"), amount: Tiyn(500))), expiresIn: 0)
        try Self.expectRefusal(&ledger, expired, code: "tx.expired", changesNonce: false)
        let cheap = ledger.envelope("buyer-c", .transfer(Transfer(to: party("owner-a"), amount: Tiyn(500))), fee: 1)
        try Self.expectRefusal(&ledger, cheap, code: "tx.fee_too_low", changesNonce: false)
        // Signed by someone else's key.
        let payload = TransactionPayload(chainID: chain, signer: party("owner-a"), nonce: 1, fee: Tiyn(10),
                                         expiresAt: Timestamp(millisecondsSinceEpoch: ledger.time + 60_000),
                                         action: .transfer(Transfer(to: party("buyer-c"), amount: Tiyn(900))))
        let forged = try SignedEnvelope.signing(payload.encoded(), with: [ledger.keys[party("buyer-c")]!])
        try Self.expectRefusal(&ledger, forged, code: "tx.signer_signature_missing", changesNonce: false)
        let stranger = try SignedEnvelope.signing(payload.encoded(), with: [SigningKey()])
        try Self.expectRefusal(&ledger, stranger, code: "tx.unknown_key", changesNonce: false)
    }

    @Test func heldTokensCannotBeSpentTwice() throws {
        var ledger = try Self.prepared()
        let deed = try ledger.submit("buyer-c", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral("05-055-005-005"),
            sellers: [Deed.Seller(party: party("owner-a"), share: share("1/2")), Deed.Seller(party: party("owner-b"), share: share("1/2"))],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: .whole, pays: Tiyn(4_999_000))])))
        #expect(deed.isCommitted, "\(deed)")
        let spend = ledger.envelope("buyer-c", .transfer(Transfer(to: party("owner-a"), amount: Tiyn(2_000))))
        try Self.expectRefusal(&ledger, spend, code: "token.insufficient_funds")
        let second = ledger.envelope("buyer-c", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral("05-055-005-005"), sellers: [Deed.Seller(party: party("owner-a"), share: share("1/2"))],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: share("1/2"), pays: Tiyn(4_999_000))])))
        try Self.expectRefusal(&ledger, second, code: "token.insufficient_funds")
    }

    @Test func malformedPayloadsAreRefusedBeforeExecution() throws {
        var ledger = try Self.prepared()
        let key = ledger.keys[party("buyer-c")]!
        let cases: [(String, String)] = [
            (#"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","amount":5},"extra":1}"#, "tx.malformed_payload"),
            (#"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","amount":5,"memo":"x"}}"#, "tx.malformed_payload"),
            (#"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.steal","body":{}}"#, "tx.unknown_type"),
            (#"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":-10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","amount":5}}"#, "tx.malformed_payload"),
            (#"{"chainId":"tamga-test","signer":"Buyer C","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","amount":5}}"#, "tx.malformed_payload"),
            (#"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"deed.propose","body":{"cadastralNumber":"05-055-005-005","sellers":[{"party":"owner-a","share":"1/2","bonus":1}],"buyers":[{"party":"buyer-c","share":"1/2","pays":5}]}}"#, "tx.malformed_payload"),
            (#"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"deed.propose","body":{"cadastralNumber":"05-055-005-005","sellers":[{"party":"owner-a","share":"1/2"}],"buyers":[{"party":"buyer-c","share":"1/2","pays":5}],"financing":{"bank":"bank-1","amount":1,"documentHash":"0000000000000000000000000000000000000000000000000000000000000000","rate":3}}}"#, "tx.malformed_payload"),
            (#"[1,2,3]"#, "tx.malformed_payload"),
            (#"{"chainId":"tamga-test""#, "tx.malformed_payload"),
        ]
        for (json, code) in cases {
            let envelope = try SignedEnvelope.signing(Array(json.utf8), with: [key])
            try Self.expectRefusal(&ledger, envelope, code: code, changesNonce: false)
        }
    }

    @Test func anUnknownFieldIsNamedTheSameWhateverTheFieldOrder() throws {
        let body = #""chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","amount":5}"#
        for json in [#"{"zeta":1,"alpha":2,"# + body + "}", "{" + body + #","alpha":2,"zeta":1}"#] {
            #expect(throws: Rejection(.malformedPayload, "unknown field \"alpha\" at the top level")) {
                try TransactionPayload.decode(Array(json.utf8))
            }
        }
        let nested = #"{"chainId":"tamga-test","signer":"buyer-c","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"token.transfer","body":{"to":"owner-a","memo":"x","amount":5}}"#
        #expect(throws: Rejection(.malformedPayload, "unknown field \"memo\" at body")) { try TransactionPayload.decode(Array(nested.utf8)) }
    }

    @Test func rolesAreEnforced() throws {
        var ledger = try Self.prepared()
        let mint = ledger.envelope("buyer-c", .mint(Mint(to: party("buyer-c"), amount: Tiyn(1_000_000), depositReference: documentHash("none"))))
        try Self.expectRefusal(&ledger, mint, code: "auth.role_required")
        let register = ledger.envelope("notary-1", .registerProperty(RegisterProperty(
            cadastralNumber: cadastral("09-099-009-009"), kind: "land", address: "x", area: AreaHundredths(1), location: nil,
            owners: [Ownership(party: party("notary-1"), share: .whole)], titleDocumentHash: documentHash("t"))))
        try Self.expectRefusal(&ledger, register, code: "auth.role_required")
        let registrar = ledger.keys[party("registrar-1")]!
        let nestedExtra = #"{"chainId":"tamga-test","signer":"registrar-1","nonce":1,"fee":10,"expiresAt":9999999999999,"type":"property.register","body":{"cadastralNumber":"09-099-009-009","kind":"land","address":"x","area":1,"location":{"latitudeMicrodegrees":1,"longitudeMicrodegrees":2,"altitude":3},"owners":[{"party":"owner-a","share":"1"}],"titleDocumentHash":"0000000000000000000000000000000000000000000000000000000000000000"}}"#
        try Self.expectRefusal(&ledger, try SignedEnvelope.signing(Array(nestedExtra.utf8), with: [registrar]), code: "tx.malformed_payload", changesNonce: false)
        let newKey = SigningKey()
        let enroll = ledger.envelope("owner-a", .enroll(Enroll(party: party("sock-puppet"), publicKey: newKey.publicKey, identityCommitment: documentHash("p"), name: "p")), cosigners: [newKey])
        try Self.expectRefusal(&ledger, enroll, code: "auth.role_required")
        // A registrar cannot enroll a party without the party's own proof of key.
        let unproven = ledger.envelope("registrar-1", .enroll(Enroll(party: party("ghost"), publicKey: SigningKey().publicKey, identityCommitment: documentHash("g"), name: "g")))
        try Self.expectRefusal(&ledger, unproven, code: "identity.proof_of_key_missing")
    }
}
