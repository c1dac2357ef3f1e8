import TamgaCore
import TamgaLedger
import Testing

@Suite struct SaleScenarioTests {
    @Test func twoPartySaleWithEscrowedTokens() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("seller-a")
        try ledger.enroll("buyer-b", tokens: 5_000_000)
        try ledger.register("01-011-001-001", owners: [("seller-a", "1")])
        try ledger.submit("issuer", .mint(Mint(to: party("seller-a"), amount: Tiyn(100), depositReference: documentHash("fees"))))

        let listed = try ledger.submit("seller-a", .list(ListProperty(cadastralNumber: cadastral("01-011-001-001"), price: Tiyn(4_000_000))))
        #expect(listed.isCommitted, "\(listed)")
        let bought = try ledger.submit("buyer-b", .buy(Buy(cadastralNumber: cadastral("01-011-001-001"), price: Tiyn(4_000_000))))
        #expect(bought.isCommitted, "\(bought)")
        #expect(bought.events.map(\.kind) == ["deed.opened", "deed.settled"])
        #expect(try ledger.owners("01-011-001-001") == ["buyer-b": "1"])
        #expect(try ledger.account("buyer-b") == Account(balance: Tiyn(5_000_000 - 4_000_000 - 10), held: .zero))
        #expect(try ledger.account("seller-a").balance == Tiyn(100 - 10 + 4_000_000))
        let deed = try #require(try ledger.deed(bought.transaction))
        #expect(deed.status == .settled)
        #expect(try ledger.passport("01-011-001-001")?.documents.last == bought.transaction.hash)
        try ledger.checkInvariants()
    }

    @Test func coOwnersSellUnequalSharesToTwoBuyers() throws {
        var ledger = LedgerHarness()
        for name in ["owner-a", "owner-b"] { try ledger.enroll(name, tokens: 100) }
        try ledger.enroll("buyer-c", tokens: 3_000_000)
        try ledger.enroll("buyer-d", tokens: 3_000_000)
        try ledger.register("02-022-002-002", owners: [("owner-a", "2/3"), ("owner-b", "1/3")])

        let proposal = ProposeDeed(
            cadastralNumber: cadastral("02-022-002-002"),
            sellers: [Deed.Seller(party: party("owner-a"), share: share("2/3")), Deed.Seller(party: party("owner-b"), share: share("1/3"))],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: share("3/4"), pays: Tiyn(2_250_000)),
                     Deed.Buyer(party: party("buyer-d"), share: share("1/4"), pays: Tiyn(750_001))]
        )
        let proposed = try ledger.submit("buyer-c", .proposeDeed(proposal))
        #expect(proposed.isCommitted, "\(proposed)")
        let id = proposed.transaction
        var deed = try #require(try ledger.deed(id))
        #expect(deed.price == Tiyn(3_000_001))
        // The proposer's signature holds its payment at once.
        #expect(try ledger.account("buyer-c").held == Tiyn(2_250_000))
        for signer in ["owner-a", "buyer-d"] {
            let signed = try ledger.submit(signer, .signDeed(SignDeed(deed: id, termsHash: deed.termsHash)))
            #expect(signed.isCommitted, "\(signed)")
            try ledger.checkInvariants()
        }
        deed = try #require(try ledger.deed(id))
        #expect(deed.status == .open)
        let last = try ledger.submit("owner-b", .signDeed(SignDeed(deed: id, termsHash: deed.termsHash)))
        #expect(last.isCommitted, "\(last)")
        #expect(last.events.last?.kind == "deed.settled")
        #expect(try ledger.owners("02-022-002-002") == ["buyer-c": "3/4", "buyer-d": "1/4"])
        // Sellers are paid pro rata to the shares they sold; the odd tiyn goes to the first seller.
        #expect(try ledger.account("owner-a").balance == Tiyn(100 - 10 + 2_000_001))
        #expect(try ledger.account("owner-b").balance == Tiyn(100 - 10 + 1_000_000))
        #expect(try ledger.account("buyer-c") == Account(balance: Tiyn(3_000_000 - 10 - 2_250_000), held: .zero))
        try ledger.checkInvariants()
    }

    @Test func aDeedThatNeedsANotaryWaitsForTheAttestation() throws {
        var ledger = LedgerHarness(parameters: Parameters(minimumFee: Tiyn(10), notaryAttestationRequired: true))
        try ledger.enroll("seller-a", tokens: 100)
        try ledger.enroll("buyer-b", tokens: 1_000_000)
        try ledger.register("03-033-003-003", owners: [("seller-a", "1")])
        try ledger.submit("seller-a", .list(ListProperty(cadastralNumber: cadastral("03-033-003-003"), price: Tiyn(500_000))))
        let bought = try ledger.submit("buyer-b", .buy(Buy(cadastralNumber: cadastral("03-033-003-003"), price: Tiyn(500_000))))
        #expect(bought.isCommitted)
        #expect(try ledger.deed(bought.transaction)?.status == .open)
        #expect(try ledger.owners("03-033-003-003") == ["seller-a": "1"])
        // A party cannot attest, nor can someone without the notary role.
        let notNotary = try ledger.submit("registrar-1", .attestDeed(DeedReference(deed: bought.transaction)))
        #expect(notNotary.rejectionCode == "auth.role_required")
        let attested = try ledger.submit("notary-1", .attestDeed(DeedReference(deed: bought.transaction)))
        #expect(attested.isCommitted, "\(attested)")
        #expect(try ledger.owners("03-033-003-003") == ["buyer-b": "1"])
        try ledger.checkInvariants()
    }

    @Test func cancellingOrExpiringADeedReleasesEveryHold() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 100)
        try ledger.enroll("buyer-b", tokens: 1_000_000)
        try ledger.register("04-044-004-004", owners: [("owner-a", "1")])
        let deed = ProposeDeed(cadastralNumber: cadastral("04-044-004-004"), sellers: [Deed.Seller(party: party("owner-a"), share: .whole)],
                               buyers: [Deed.Buyer(party: party("buyer-b"), share: .whole, pays: Tiyn(600_000))])
        let first = try ledger.submit("buyer-b", .proposeDeed(deed))
        #expect(try ledger.account("buyer-b").held == Tiyn(600_000))
        let cancelled = try ledger.submit("owner-a", .cancelDeed(DeedReference(deed: first.transaction)))
        #expect(cancelled.isCommitted, "\(cancelled)")
        #expect(try ledger.account("buyer-b") == Account(balance: Tiyn(1_000_000 - 10), held: .zero))
        try ledger.checkInvariants()

        let second = try ledger.submit("buyer-b", .proposeDeed(deed))
        #expect(second.isCommitted)
        // A week and a bit later the deed has expired: the next block releases the hold, and signing fails.
        try ledger.block([], advancing: 8 * 24 * 3_600_000)
        #expect(try ledger.deed(second.transaction)?.status == .expired)
        #expect(try ledger.account("buyer-b").held == .zero)
        let terms = try #require(try ledger.deed(second.transaction)).termsHash
        let late = try ledger.submit("owner-a", .signDeed(SignDeed(deed: second.transaction, termsHash: terms)))
        #expect(late.rejectionCode == "deed.closed")
        try ledger.checkInvariants()
    }
}
