import TamgaCore
import TamgaLedger
import Testing

/// Consent is judged against the state at execution: a listing, deed, pledge signature or access
/// code given for one ownership binds nobody once the ownership changes.
@Suite struct ConsentTests {
    static let home = "01-001-001-001"

    static func prepared() throws -> LedgerHarness {
        var ledger = LedgerHarness()
        try ledger.enroll("citizen-1", tokens: 1_000)
        try ledger.enroll("citizen-2", tokens: 5_000_000)
        try ledger.enroll("citizen-3", tokens: 5_000_000)
        try ledger.register(home, owners: [("citizen-1", "1")])
        return ledger
    }

    /// citizen-1 sells to citizen-2 by deed; the listing it made before must not sell citizen-2's property.
    static func sellByDeed(_ ledger: inout LedgerHarness, from seller: String, to buyer: String, price: UInt64) throws -> TransactionID {
        let proposed = try ledger.submit(buyer, .proposeDeed(ProposeDeed(cadastralNumber: cadastral(home), sellers: [Deed.Seller(party: party(seller), share: .whole)],
                                                                     buyers: [Deed.Buyer(party: party(buyer), share: .whole, pays: Tiyn(price))])))
        #expect(proposed.isCommitted, "\(proposed)")
        let terms = try #require(try ledger.deed(proposed.transaction)).termsHash
        let signed = try ledger.submit(seller, .signDeed(SignDeed(deed: proposed.transaction, termsHash: terms)))
        #expect(signed.events.contains { $0.kind == "deed.settled" }, "\(signed)")
        return proposed.transaction
    }

    @Test func aStaleListingCannotSellTheNewOwnersProperty() throws {
        var ledger = try Self.prepared()
        #expect(try ledger.submit("citizen-1", .list(ListProperty(cadastralNumber: cadastral(Self.home), price: Tiyn(1_000_000)))).isCommitted)
        let sale = try ledger.submit("citizen-2", .buy(Buy(cadastralNumber: cadastral(Self.home), price: Tiyn(1)))).rejectionCode
        #expect(sale == "sale.price_changed")
        _ = try Self.sellByDeed(&ledger, from: "citizen-1", to: "citizen-2", price: 2_000_000)
        #expect(try ledger.state.value(forKey: RecordKey.listing(cadastral(Self.home))) == nil)
        let attempt = try ledger.submit("citizen-3", .buy(Buy(cadastralNumber: cadastral(Self.home), price: Tiyn(1_000_000))))
        #expect(attempt.rejectionCode == "sale.not_listed")
        #expect(try ledger.owners(Self.home) == ["citizen-2": "1"])
        try ledger.checkInvariants()
    }

    @Test func aStaleListingCannotSellAfterACourtTransfer() throws {
        var ledger = try Self.prepared()
        #expect(try ledger.submit("citizen-1", .list(ListProperty(cadastralNumber: cadastral(Self.home), price: Tiyn(1_000_000)))).isCommitted)
        let order = try ledger.submit("court-1", .orderTransfer(OrderTransfer(cadastralNumber: cadastral(Self.home), from: [Ownership(party: party("citizen-1"), share: .whole)],
                                                                            to: [Ownership(party: party("citizen-2"), share: .whole)], orderHash: documentHash("ruling"))))
        #expect(order.isCommitted, "\(order)")
        #expect(order.events.contains { $0.kind == "sale.withdrawn" })
        let attempt = try ledger.submit("citizen-3", .buy(Buy(cadastralNumber: cadastral(Self.home), price: Tiyn(1_000_000))))
        #expect(attempt.rejectionCode == "sale.not_listed")
        #expect(try ledger.owners(Self.home) == ["citizen-2": "1"])
    }

    @Test func anyOwnerWithdrawsAListingAndNobodyElseCan() throws {
        var ledger = try Self.prepared()
        try ledger.enroll("citizen-4", tokens: 1_000)
        try ledger.register("01-001-001-002", owners: [("citizen-1", "1/2"), ("citizen-4", "1/2")])
        let number = cadastral("01-001-001-002")
        let listed = try ledger.submit("citizen-1", .list(ListProperty(cadastralNumber: number, price: Tiyn(500))), cosigners: [ledger.keys[party("citizen-4")]!])
        #expect(listed.isCommitted, "\(listed)")
        #expect(try ledger.submit("citizen-3", .withdrawListing(WithdrawListing(cadastralNumber: number))).rejectionCode == "sale.not_an_owner")
        #expect(try ledger.submit("citizen-4", .withdrawListing(WithdrawListing(cadastralNumber: number))).isCommitted)
        #expect(try ledger.submit("citizen-4", .withdrawListing(WithdrawListing(cadastralNumber: number))).rejectionCode == "sale.not_listed")
        #expect(try ledger.submit("citizen-3", .buy(Buy(cadastralNumber: number, price: Tiyn(500)))).rejectionCode == "sale.not_listed")
    }

    @Test func openDeedsOfFormerOwnersAreVoidedWithTheirHoldsReleased() throws {
        var ledger = try Self.prepared()
        // citizen-3 offers to buy and its payment is held; then citizen-1 sells to citizen-2 instead.
        let rival = try ledger.submit("citizen-3", .proposeDeed(ProposeDeed(cadastralNumber: cadastral(Self.home), sellers: [Deed.Seller(party: party("citizen-1"), share: .whole)],
                                                                            buyers: [Deed.Buyer(party: party("citizen-3"), share: .whole, pays: Tiyn(3_000_000))])))
        #expect(rival.isCommitted)
        #expect(try ledger.account("citizen-3").held == Tiyn(3_000_000))
        _ = try Self.sellByDeed(&ledger, from: "citizen-1", to: "citizen-2", price: 2_000_000)
        #expect(try ledger.deed(rival.transaction)?.status == .voided)
        #expect(try ledger.account("citizen-3").held == .zero)
        // The seller's earlier signature cannot complete the voided deed.
        let terms = try #require(try ledger.deed(rival.transaction)).termsHash
        #expect(try ledger.submit("citizen-1", .signDeed(SignDeed(deed: rival.transaction, termsHash: terms))).rejectionCode == "deed.closed")
        try ledger.checkInvariants()
    }

    @Test func pledgeSignaturesOfFormerOwnersDoNotCount() throws {
        var ledger = try Self.prepared()
        let proposed = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral(Self.home), loanAmount: Tiyn(1_000), documents: [documentHash("loan")])))
        #expect(try ledger.submit("citizen-1", .signPledge(PledgeReference(pledge: proposed.transaction))).isCommitted)
        _ = try Self.sellByDeed(&ledger, from: "citizen-1", to: "citizen-2", price: 2_000_000)
        let registered = try ledger.submit("registrar-1", .registerPledge(PledgeReference(pledge: proposed.transaction)))
        #expect(registered.rejectionCode == "pledge.owner_signature_missing")
        #expect(try ledger.passport(Self.home)?.restrictions.isEmpty == true)
        #expect(try ledger.submit("citizen-2", .signPledge(PledgeReference(pledge: proposed.transaction))).isCommitted)
        #expect(try ledger.submit("registrar-1", .registerPledge(PledgeReference(pledge: proposed.transaction))).isCommitted)
    }

    @Test func theAccessCodeIsClearedOnSaleAndNeverInThePassport() throws {
        var ledger = try Self.prepared()
        let salt = Hash.sha256(Array("salt".utf8))
        let code = AccessCode(salt: salt, codeHash: AccessCode.hash("ABCD-EFGH-IJKL-MNOP", salt: salt))
        #expect(try ledger.submit("citizen-3", .setAccessCode(SetAccessCode(cadastralNumber: cadastral(Self.home), code: code))).rejectionCode == "sale.not_an_owner")
        #expect(try ledger.submit("citizen-1", .setAccessCode(SetAccessCode(cadastralNumber: cadastral(Self.home), code: code))).isCommitted)
        let stored = try #require(try ledger.state.value(forKey: RecordKey.accessCode(cadastral(Self.home))))
        #expect(try JSONDecoderHelper.decode(AccessCode.self, stored).opens("abcd efgh ijkl mnop"))
        let passportBytes = try #require(try ledger.state.value(forKey: RecordKey.property(cadastral(Self.home))))
        #expect(!String(decoding: passportBytes, as: UTF8.self).contains(code.codeHash.hex))
        _ = try Self.sellByDeed(&ledger, from: "citizen-1", to: "citizen-2", price: 2_000_000)
        #expect(try ledger.state.value(forKey: RecordKey.accessCode(cadastral(Self.home))) == nil)
    }

    @Test func aReversalTakesThePledgesTheBuyerGaveAndTheListingItMade() throws {
        var ledger = try Self.prepared()
        let deed = try Self.sellByDeed(&ledger, from: "citizen-1", to: "citizen-2", price: 2_000_000)
        let pledge = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral(Self.home), loanAmount: Tiyn(1_000), documents: [documentHash("loan")])))
        #expect(try ledger.submit("citizen-2", .signPledge(PledgeReference(pledge: pledge.transaction))).isCommitted)
        #expect(try ledger.submit("registrar-1", .registerPledge(PledgeReference(pledge: pledge.transaction))).isCommitted)
        #expect(try ledger.submit("citizen-2", .list(ListProperty(cadastralNumber: cadastral(Self.home), price: Tiyn(9_000_000)))).isCommitted)
        let reversal = try ledger.submit("court-1", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("ruling"))))
        #expect(reversal.isCommitted, "\(reversal)")
        #expect(reversal.events.map(\.kind).contains("pledge.voided"))
        #expect(try ledger.owners(Self.home) == ["citizen-1": "1"])
        #expect(try ledger.passport(Self.home)?.restrictions.isEmpty == true)
        #expect(try ledger.state.value(forKey: RecordKey.listing(cadastral(Self.home))) == nil)
        try ledger.checkInvariants()
    }
}

extension ConsentTests {
    @Test func aPledgeProposedBeforeTheDeedButGivenByTheBuyerGoesWithTheReversal() throws {
        var ledger = try Self.prepared()
        let pledge = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral(Self.home), loanAmount: Tiyn(1_000), documents: [documentHash("loan")])))
        let deed = try Self.sellByDeed(&ledger, from: "citizen-1", to: "citizen-2", price: 2_000_000)
        #expect(try ledger.submit("citizen-2", .signPledge(PledgeReference(pledge: pledge.transaction))).isCommitted)
        #expect(try ledger.submit("registrar-1", .registerPledge(PledgeReference(pledge: pledge.transaction))).isCommitted)
        #expect(try ledger.submit("court-1", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("ruling")))).isCommitted)
        #expect(try ledger.passport(Self.home)?.restrictions.isEmpty == true)
    }

    @Test func aFinancedPurchaseOfAShareCannotPledgeTheCoOwnersShare() throws {
        var ledger = try Self.prepared()
        try ledger.register("01-001-001-003", owners: [("citizen-1", "1/2"), ("citizen-3", "1/2")])
        let proposed = try ledger.submit("citizen-2", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral("01-001-001-003"), sellers: [Deed.Seller(party: party("citizen-1"), share: share("1/2"))],
            buyers: [Deed.Buyer(party: party("citizen-2"), share: share("1/2"), pays: Tiyn(100_000))],
            financing: Deed.Financing(bank: party("bank-1"), amount: Tiyn(50_000), documentHash: documentHash("loan")))))
        #expect(proposed.isCommitted, "\(proposed)")
        let terms = try #require(try ledger.deed(proposed.transaction)).termsHash
        #expect(try ledger.submit("bank-1", .signDeed(SignDeed(deed: proposed.transaction, termsHash: terms))).isCommitted)
        let last = try ledger.submit("citizen-1", .signDeed(SignDeed(deed: proposed.transaction, termsHash: terms)))
        #expect(last.rejectionCode == "deed.invalid", "\(last)")
        #expect(try ledger.owners("01-001-001-003") == ["citizen-1": "1/2", "citizen-3": "1/2"])
        try ledger.checkInvariants()
    }

    @Test func aCompletedKeyRecoveryTakesBackWhatTheLostKeyOfferedAndSigned() throws {
        var ledger = try Self.prepared()
        #expect(try ledger.submit("citizen-1", .list(ListProperty(cadastralNumber: cadastral(Self.home), price: Tiyn(9_000_000)))).isCommitted)
        let proposed = try ledger.submit("citizen-3", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral(Self.home), sellers: [Deed.Seller(party: party("citizen-1"), share: .whole)],
            buyers: [Deed.Buyer(party: party("citizen-3"), share: share("1/2"), pays: Tiyn(1_000_000)),
                     Deed.Buyer(party: party("citizen-2"), share: share("1/2"), pays: Tiyn(1_000_000))])))
        let terms = try #require(try ledger.deed(proposed.transaction)).termsHash
        #expect(try ledger.submit("citizen-1", .signDeed(SignDeed(deed: proposed.transaction, termsHash: terms))).isCommitted)
        let newKey = SigningKey()
        let request = try ledger.submit("registrar-1", .requestRecovery(RequestRecovery(party: party("citizen-1"), newKey: newKey.publicKey,
                                                                                       verificationHash: documentHash("identity check"))), cosigners: [newKey])
        #expect(try ledger.submit("registrar-2", .approveRecovery(RecoveryReference(recovery: request.transaction))).isCommitted)
        try ledger.block([], advancing: 73 * 3_600_000)
        let completed = try ledger.submit("registrar-1", .completeRecovery(RecoveryReference(recovery: request.transaction)))
        #expect(completed.isCommitted, "\(completed)")
        #expect(try ledger.state.value(forKey: RecordKey.listing(cadastral(Self.home))) == nil)
        #expect(try ledger.deed(proposed.transaction)?.status == .voided)
        #expect(try ledger.account("citizen-3").held == .zero)
        try ledger.checkInvariants()
    }

    @Test func noNumberOfOrdersKeepsACourtFromActing() throws {
        var ledger = try Self.prepared()
        for round in 0..<(Limits.documentsPerPropertyMax / 2 + 5) {
            let arrest = try ledger.submit("bailiff-1", .imposeArrest(ImposeArrest(cadastralNumber: cadastral(Self.home), orderHash: documentHash("order \(round)"))))
            #expect(arrest.isCommitted, "\(arrest)")
            #expect(try ledger.submit("bailiff-1", .liftArrest(LiftArrest(cadastralNumber: cadastral(Self.home), arrest: arrest.transaction, orderHash: documentHash("lift \(round)")))).isCommitted)
        }
        let passport = try #require(try ledger.passport(Self.home))
        #expect(passport.documents.count == Limits.documentsPerPropertyMax)
        #expect(passport.documents.first == documentHash("title-\(Self.home)"))
        #expect(try ledger.submit("court-1", .imposeArrest(ImposeArrest(cadastralNumber: cadastral(Self.home), orderHash: documentHash("final")))).isCommitted)
    }
}

/// No input can stop the chain: values at the extremes end in a rejection with a code, never a trap.
@Suite struct HaltTests {
    @Test func sharesNearOneWithTheLargestDenominatorSettle() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("citizen-1", tokens: 1_000)
        try ledger.enroll("citizen-2", tokens: 5_000_000)
        try ledger.enroll("citizen-3", tokens: 1_000)
        let number = "02-002-002-002"
        try ledger.register(number, owners: [("citizen-1", "999999999999/1000000000000"), ("citizen-3", "1/1000000000000")])
        let crafted = share("999999999999/1000000000000")
        let proposed = try ledger.submit("citizen-2", .proposeDeed(ProposeDeed(cadastralNumber: cadastral(number), sellers: [Deed.Seller(party: party("citizen-1"), share: crafted)],
                                                                             buyers: [Deed.Buyer(party: party("citizen-2"), share: crafted, pays: Tiyn(4_999_000))])))
        #expect(proposed.isCommitted, "\(proposed)")
        let terms = try #require(try ledger.deed(proposed.transaction)).termsHash
        let signed = try ledger.submit("citizen-1", .signDeed(SignDeed(deed: proposed.transaction, termsHash: terms)))
        #expect(signed.events.contains { $0.kind == "deed.settled" }, "\(signed)")
        #expect(try ledger.account("citizen-1").balance == Tiyn(1_000 - 10 + 4_999_000))
        #expect(try ledger.owners(number) == ["citizen-2": "999999999999/1000000000000", "citizen-3": "1/1000000000000"])
        try ledger.checkInvariants()
    }

    @Test func proRataIsExactAtTheExtremes() throws {
        let largest = try Share(999_999_999_999, 1_000_000_000_000)
        #expect(try Tiyn(UInt64.max).proRata(part: largest, of: largest) == Tiyn(UInt64.max))
        #expect(try Tiyn(UInt64.max).proRata(part: .none, of: largest) == .zero)
        #expect(try Tiyn(1_000_000_000_000).proRata(part: try Share(1, 1_000_000_000_000), of: .whole) == Tiyn(1))
        #expect(throws: Rejection.self) { try Tiyn(1).proRata(part: .whole, of: largest) }
    }

    @Test func governanceParametersOutOfRangeAreRefusedWhenProposed() throws {
        var ledger = LedgerHarness()
        for parameters in [Parameters(deedLifetimeMillis: UInt64.max), Parameters(recoveryTimeLockMillis: UInt64.max),
                           Parameters(minimumFee: Tiyn(UInt64.max)), Parameters(deedLifetimeMillis: 0)] {
            let receipt = try ledger.submit("operator-1", .proposeGovernance(ProposeGovernance(change: .setParameters(parameters))))
            #expect(receipt.rejectionCode == "governance.invalid_parameters", "\(parameters)")
        }
    }

    @Test func aRepeatedFieldIsRefusedAtAnyDepthAndUnderAnyEscape() throws {
        let payloads = [
            #"{"chainId":"tamga-test","signer":"issuer","nonce":1,"fee":10,"expiresAt":1,"type":"token.transfer","body":{"to":"x","amount":1,"amount":1000000}}"#,
            #"{"chainId":"tamga-test","signer":"issuer","nonce":1,"fee":10,"fee":1,"expiresAt":1,"type":"token.transfer","body":{"to":"x","amount":1}}"#,
            #"{"chainId":"tamga-test","signer":"issuer","nonce":1,"fee":10,"expiresAt":1,"type":"token.transfer","body":{"to":"x","amount":1,"\u0061mount":2}}"#,
            #"{"chainId":"t","signer":"s","nonce":1,"fee":10,"expiresAt":1,"type":"property.register","body":{"owners":[{"party":"a","share":"1","share":"1/2"}]}}"#,
        ]
        for payload in payloads {
            let error = #expect(throws: Rejection.self) { _ = try TransactionPayload.decode(Array(payload.utf8)) }
            #expect(error?.reason == .duplicateField, "\(payload)")
        }
        // Repeated names in different objects are fine.
        let distinct = #"{"chainId":"tamga-test","signer":"issuer","nonce":1,"fee":10,"expiresAt":1,"type":"token.transfer","body":{"to":"citizen-2","amount":1}}"#
        #expect(try TransactionPayload.decode(Array(distinct.utf8)).fee == Tiyn(10))
    }

    @Test func unknownFieldsInsideAGovernanceChangeAreRefused() throws {
        let head = #"{"chainId":"tamga-test","signer":"operator-1","nonce":1,"fee":10,"expiresAt":1,"type":"governance.propose","body":{"change":"#
        for change in [#"{"grantRole":{"party":"a","role":"bank","extra":1}}"#,
                       #"{"setParameters":{"_0":{"minimumFee":1,"notaryAttestationRequired":false,"deedLifetimeMillis":3600000,"recoveryTimeLockMillis":3600000,"bonus":1}}}"#,
                       #"{"grantRole":{"party":"a","role":"bank"},"revokeRole":{"party":"a","role":"bank"}}"#] {
            #expect(throws: Rejection.self) { _ = try TransactionPayload.decode(Array((head + change + "}}").utf8)) }
        }
    }
}
