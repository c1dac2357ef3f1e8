import TamgaCore
import TamgaLedger
import Testing

@Suite struct PledgeScenarioTests {
    @Test func bankPledgeIsProposedSignedReviewedRegisteredAndReleased() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 1_000)
        try ledger.enroll("owner-b", tokens: 1_000)
        try ledger.register("06-066-006-006", owners: [("owner-a", "1/2"), ("owner-b", "1/2")])
        let proposed = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral("06-066-006-006"), loanAmount: Tiyn(20_000_000),
                                                                               documents: [documentHash("loan"), documentHash("valuation")])))
        #expect(proposed.isCommitted, "\(proposed)")
        let id = PledgeReference(pledge: proposed.transaction)
        // Before every owner signs, the registrar cannot register it.
        #expect(try ledger.submit("owner-a", .signPledge(id)).isCommitted)
        #expect(try ledger.submit("registrar-1", .registerPledge(id)).rejectionCode == "pledge.owner_signature_missing")
        #expect(try ledger.submit("owner-b", .signPledge(id)).isCommitted)
        // Only a registrar registers.
        #expect(try ledger.submit("bank-1", .registerPledge(id)).rejectionCode == "auth.role_required")
        let registered = try ledger.submit("registrar-2", .registerPledge(id))
        #expect(registered.isCommitted, "\(registered)")
        #expect(Set(registered.events[0].parties) == Set([party("owner-a"), party("owner-b"), party("bank-1"), party("registrar-2")]))
        #expect(try ledger.passport("06-066-006-006")?.restrictions.map(\.kind) == [.pledge])

        // A pledged property cannot be sold to a buyer who does not take the pledge over.
        try ledger.enroll("buyer-c", tokens: 9_000_000)
        try ledger.submit("owner-a", .list(ListProperty(cadastralNumber: cadastral("06-066-006-006"), price: Tiyn(1_000_000))),
                          cosigners: [ledger.keys[party("owner-b")]!])
        let buy = try ledger.submit("buyer-c", .buy(Buy(cadastralNumber: cadastral("06-066-006-006"), price: Tiyn(1_000_000))))
        #expect(buy.rejectionCode == "sale.property_pledged")

        // Only the holding bank releases it.
        #expect(try ledger.submit("registrar-1", .releasePledge(id)).rejectionCode == "pledge.not_the_holder")
        #expect(try ledger.submit("owner-a", .releasePledge(id)).rejectionCode == "pledge.not_the_holder")
        #expect(try ledger.submit("bank-1", .releasePledge(id)).isCommitted)
        #expect(try ledger.passport("06-066-006-006")?.restrictions.isEmpty == true)
        try ledger.checkInvariants()
    }

    @Test func registrarRejectsWithAReasonTheApplicantSees() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 1_000)
        try ledger.register("06-066-006-007", owners: [("owner-a", "1")])
        let proposed = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral("06-066-006-007"), loanAmount: Tiyn(1), documents: [documentHash("loan")])))
        let rejected = try ledger.submit("registrar-1", .rejectPledge(RejectPledge(pledge: proposed.transaction, reason: "the valuation report is missing")))
        #expect(rejected.isCommitted)
        #expect(rejected.events[0].kind == "pledge.rejected")
        #expect(rejected.events[0].parties.contains(party("bank-1")) && rejected.events[0].parties.contains(party("owner-a")))
        let again = try ledger.submit("registrar-2", .registerPledge(PledgeReference(pledge: proposed.transaction)))
        #expect(again.rejectionCode == "pledge.not_pending")
    }

    @Test func financedPurchaseRegistersTheBanksPledgeInTheSameSettlement() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 100)
        try ledger.enroll("owner-b", tokens: 100)
        try ledger.enroll("buyer-c", tokens: 2_000_000)
        try ledger.enroll("buyer-d", tokens: 1_000_000)
        try ledger.submit("issuer", .mint(Mint(to: party("bank-1"), amount: Tiyn(10_000_000), depositReference: documentHash("bank reserve"))))
        try ledger.register("07-077-007-007", owners: [("owner-a", "1/2"), ("owner-b", "1/2")])
        let proposal = ProposeDeed(
            cadastralNumber: cadastral("07-077-007-007"),
            sellers: [Deed.Seller(party: party("owner-a"), share: share("1/2")), Deed.Seller(party: party("owner-b"), share: share("1/2"))],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: share("3/5"), pays: Tiyn(1_500_000)),
                     Deed.Buyer(party: party("buyer-d"), share: share("2/5"), pays: Tiyn(500_000))],
            financing: Deed.Financing(bank: party("bank-1"), amount: Tiyn(8_000_000), documentHash: documentHash("mortgage agreement"))
        )
        let opened = try ledger.submit("buyer-c", .proposeDeed(proposal))
        #expect(opened.isCommitted, "\(opened)")
        let terms = try #require(try ledger.deed(opened.transaction)).termsHash
        for signer in ["buyer-d", "owner-a", "owner-b"] {
            #expect(try ledger.submit(signer, .signDeed(SignDeed(deed: opened.transaction, termsHash: terms))).isCommitted)
        }
        #expect(try ledger.account("bank-1").held == .zero)
        let settled = try ledger.submit("bank-1", .signDeed(SignDeed(deed: opened.transaction, termsHash: terms)))
        #expect(settled.isCommitted, "\(settled)")
        #expect(settled.events.map(\.kind) == ["deed.signed", "pledge.registered", "deed.settled"])
        #expect(try ledger.owners("07-077-007-007") == ["buyer-c": "3/5", "buyer-d": "2/5"])
        let restriction = try #require(try ledger.passport("07-077-007-007")?.restrictions.first)
        #expect(restriction.kind == .pledge && restriction.holder == party("bank-1"))
        #expect(try ledger.account("owner-a").balance == Tiyn(100 - 10 + 5_000_000))
        #expect(try ledger.account("owner-b").balance == Tiyn(100 - 10 + 5_000_000))
        #expect(try ledger.account("bank-1").balance == Tiyn(100_000 - 10 + 10_000_000 - 8_000_000))
        try ledger.checkInvariants()
    }
}
