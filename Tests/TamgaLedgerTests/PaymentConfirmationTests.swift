import TamgaCore
import TamgaLedger
import Testing

/// Deeds paid outside the token: the buyers' bank confirms the payment and the deed settles.
@Suite struct PaymentConfirmationTests {
    static let property = "09-099-009-009"
    static let price = Tiyn(40_000_000)

    /// A seller, a buyer with only enough tokens for fees, and the property; the buyer proposes a
    /// deed at a price far above its balance, paid through bank-1.
    static func proposed(parameters: Parameters = Parameters(minimumFee: Tiyn(10))) throws -> (LedgerHarness, TransactionID) {
        var ledger = LedgerHarness(parameters: parameters)
        try ledger.enroll("seller-a", tokens: 100)
        try ledger.enroll("buyer-b", tokens: 100)
        try ledger.register(property, owners: [("seller-a", "1")])
        let proposal = try ledger.submit("buyer-b", .proposeDeed(deed(paymentBank: party("bank-1"))))
        #expect(proposal.isCommitted, "\(proposal)")
        return (ledger, proposal.transaction)
    }

    static func deed(paymentBank: PartyID?, buyerPays: Tiyn = price) -> ProposeDeed {
        ProposeDeed(cadastralNumber: cadastral(property), sellers: [Deed.Seller(party: party("seller-a"), share: .whole)],
                    buyers: [Deed.Buyer(party: party("buyer-b"), share: .whole, pays: buyerPays)], paymentBank: paymentBank)
    }

    static func confirmation(_ deed: Deed, order: String = "payment order 1") -> Action {
        .confirmPayment(ConfirmPayment(deed: deed.id, termsHash: deed.termsHash, paymentOrderHash: documentHash(order)))
    }

    @Test("nothing is held; the deed settles when the named bank confirms, after every signature, and no token moves")
    func settlesOnTheBanksConfirmation() throws {
        var (ledger, id) = try Self.proposed()
        var deed = try #require(try ledger.deed(id))
        #expect(deed.holds.isEmpty && deed.paymentBank == party("bank-1"))
        #expect(deed.parties == [party("bank-1"), party("buyer-b"), party("seller-a")])
        #expect(try ledger.account("buyer-b") == Account(balance: Tiyn(100 - 10), held: .zero))

        // Too early: the seller has not signed.
        #expect(try ledger.submit("bank-1", Self.confirmation(deed)).rejectionCode == "deed.payment_not_due")
        let signed = try ledger.submit("seller-a", .signDeed(SignDeed(deed: id, termsHash: deed.termsHash)))
        #expect(signed.isCommitted, "\(signed)")
        deed = try #require(try ledger.deed(id))
        #expect(deed.status == .open, "the sellers' and buyers' signatures alone do not settle a deed paid outside the token")
        #expect(try ledger.owners(Self.property) == ["seller-a": "1"])

        let bankBefore = try ledger.account("bank-1")
        let confirmed = try ledger.submit("bank-1", Self.confirmation(deed))
        #expect(confirmed.isCommitted, "\(confirmed)")
        #expect(confirmed.events.map(\.kind) == ["deed.payment_confirmed", "deed.settled"])
        #expect(confirmed.events.first?.amount == Self.price)
        #expect(confirmed.events.first?.parties.contains(party("bank-1")) == true)
        #expect(try ledger.owners(Self.property) == ["buyer-b": "1"])
        deed = try #require(try ledger.deed(id))
        #expect(deed.status == .settled && deed.paymentOrderHash == documentHash("payment order 1"))
        #expect(try ledger.passport(Self.property)?.documents.suffix(2) == [id.hash, documentHash("payment order 1")])
        // Only fees moved: the price was paid outside.
        #expect(try ledger.account("seller-a") == Account(balance: Tiyn(100 - 10), held: .zero))
        #expect(try ledger.account("bank-1") == Account(balance: Tiyn(bankBefore.balance.rawValue - 10), held: .zero))
        // Once settled, nothing more to confirm.
        #expect(try ledger.submit("bank-1", Self.confirmation(deed, order: "again")).rejectionCode == "deed.closed")
        try ledger.checkInvariants()
    }

    @Test("who must not: another party or role, the bank signing or proposing in place of confirming, other terms, a deed that does not name it")
    func onlyTheNamedBankConfirmsTheseTerms() throws {
        var (ledger, id) = try Self.proposed()
        let deed = try #require(try ledger.deed(id))
        #expect(try ledger.submit("seller-a", .signDeed(SignDeed(deed: id, termsHash: deed.termsHash))).isCommitted)

        // Anyone without the bank role, a party included.
        for impostor in ["buyer-b", "seller-a", "court-1", "registrar-1"] {
            #expect(try ledger.submit(impostor, Self.confirmation(deed)).rejectionCode == "auth.role_required", "\(impostor)")
        }
        // The bank signs instead of confirming, or confirms other terms.
        #expect(try ledger.submit("bank-1", .signDeed(SignDeed(deed: id, termsHash: deed.termsHash))).rejectionCode == "deed.payment_not_due")
        #expect(try ledger.submit("bank-1", .confirmPayment(ConfirmPayment(deed: id, termsHash: documentHash("other terms"),
                                                                          paymentOrderHash: documentHash("order")))).rejectionCode == "deed.terms_mismatch")
        // A deed paid in tokens does not name the bank.
        try ledger.enroll("buyer-c", tokens: 50_000_000)
        let tokenDeed = try ledger.submit("buyer-c", .proposeDeed(ProposeDeed(
            cadastralNumber: cadastral(Self.property), sellers: [Deed.Seller(party: party("seller-a"), share: .whole)],
            buyers: [Deed.Buyer(party: party("buyer-c"), share: .whole, pays: Self.price)])))
        #expect(tokenDeed.isCommitted, "\(tokenDeed)")
        let paidInTokens = try #require(try ledger.deed(tokenDeed.transaction))
        #expect(try ledger.submit("bank-1", Self.confirmation(paidInTokens)).rejectionCode == "deed.not_the_payment_bank")
        // None of it moved the property or changed the first deed.
        #expect(try ledger.owners(Self.property) == ["seller-a": "1"])
        #expect(try ledger.deed(id) == deed.signed(by: "seller-a"))
        try ledger.checkInvariants()
    }

    @Test("a paying bank must be a bank and neither seller nor buyer, and may not propose the deed it confirms")
    func theNamedBankIsChecked() throws {
        var (ledger, id) = try Self.proposed()
        #expect(try ledger.submit("buyer-b", .proposeDeed(Self.deed(paymentBank: party("court-1")))).rejectionCode == "auth.role_required")
        #expect(try ledger.submit("buyer-b", .proposeDeed(Self.deed(paymentBank: party("nobody-9")))).rejectionCode == "party.unknown")
        let bankAsBuyer = ProposeDeed(cadastralNumber: cadastral(Self.property), sellers: [Deed.Seller(party: party("seller-a"), share: .whole)],
                                      buyers: [Deed.Buyer(party: party("bank-1"), share: .whole, pays: Self.price)], paymentBank: party("bank-1"))
        #expect(try ledger.submit("bank-1", .proposeDeed(bankAsBuyer)).rejectionCode == "deed.invalid")
        // The terms name the paying bank: a signature on the same deed paid in tokens is not a
        // signature on this one.
        var inTokens = try #require(try ledger.deed(id))
        let withBank = inTokens.termsHash
        inTokens.paymentBank = nil
        #expect(inTokens.termsHash != withBank)
        // The bank cannot open the deed itself (its signature would count as a confirmation).
        let byTheBank = try ledger.submit("bank-1", .proposeDeed(Self.deed(paymentBank: party("bank-1"))))
        #expect(byTheBank.rejectionCode == "deed.payment_not_due", "\(byTheBank)")
        try ledger.checkInvariants()
    }

    @Test("an arrest, a missing attestation or an expiry stops the confirmation; a required notary attests first")
    func theUsualRulesHoldAtConfirmation() throws {
        var (ledger, id) = try Self.proposed(parameters: Parameters(minimumFee: Tiyn(10), notaryAttestationRequired: true))
        let deed = try #require(try ledger.deed(id))
        #expect(try ledger.submit("seller-a", .signDeed(SignDeed(deed: id, termsHash: deed.termsHash))).isCommitted)
        #expect(try ledger.submit("bank-1", Self.confirmation(deed)).rejectionCode == "deed.attestation_missing")
        #expect(try ledger.submit("notary-1", .attestDeed(DeedReference(deed: id))).isCommitted)
        #expect(try ledger.deed(id)?.status == .open, "the attestation does not stand in for the payment")

        let arrest = try ledger.submit("bailiff-1", .imposeArrest(ImposeArrest(cadastralNumber: cadastral(Self.property), orderHash: documentHash("order"))))
        #expect(arrest.isCommitted, "\(arrest)")
        #expect(try ledger.submit("bank-1", Self.confirmation(deed)).rejectionCode == "sale.property_arrested")
        #expect(try ledger.owners(Self.property) == ["seller-a": "1"])
        #expect(try ledger.submit("bailiff-1", .liftArrest(LiftArrest(cadastralNumber: cadastral(Self.property), arrest: arrest.transaction,
                                                                     orderHash: documentHash("lifted")))).isCommitted)
        let confirmed = try ledger.submit("bank-1", Self.confirmation(deed))
        #expect(confirmed.isCommitted, "\(confirmed)")
        #expect(try ledger.owners(Self.property) == ["buyer-b": "1"])

        // A deed left unconfirmed past its lifetime cannot be confirmed.
        var (late, lateID) = try Self.proposed()
        let lateDeed = try #require(try late.deed(lateID))
        #expect(try late.submit("seller-a", .signDeed(SignDeed(deed: lateID, termsHash: lateDeed.termsHash))).isCommitted)
        try late.block([], advancing: Parameters().deedLifetimeMillis + 1)
        #expect(try late.deed(lateID)?.status == .expired)
        #expect(try late.submit("bank-1", Self.confirmation(lateDeed)).rejectionCode == "deed.closed")
        try late.checkInvariants()
    }

    @Test("a court reverses a deed paid outside the token: ownership goes back and the whole price becomes claims")
    func invalidationRecordsTheOutsidePaymentAsClaims() throws {
        var (ledger, id) = try Self.proposed()
        let deed = try #require(try ledger.deed(id))
        #expect(try ledger.submit("seller-a", .signDeed(SignDeed(deed: id, termsHash: deed.termsHash))).isCommitted)
        #expect(try ledger.submit("bank-1", Self.confirmation(deed)).isCommitted)
        // The seller has tokens now, which must not be taken for a payment the ledger never saw.
        #expect(try ledger.submit("issuer", .mint(Mint(to: party("seller-a"), amount: Tiyn(5_000_000), depositReference: documentHash("d")))).isCommitted)
        let sellerBefore = try ledger.account("seller-a")
        let order = try ledger.submit("court-1", .invalidateDeed(InvalidateDeed(deed: id, orderHash: documentHash("ruling"))))
        #expect(order.isCommitted, "\(order)")
        #expect(try ledger.owners(Self.property) == ["seller-a": "1"])
        #expect(try ledger.account("seller-a") == sellerBefore)
        let claim = try #require(order.events.first { $0.kind == "claim.recorded" })
        #expect(claim.amount == Self.price && claim.parties == [party("buyer-b"), party("seller-a")])
        #expect(order.events.first { $0.kind == "deed.invalidated" }?.amount == .zero)
        try ledger.checkInvariants()
    }

    @Test("a bank that finances and pays: its confirmation registers its pledge, and none of its tokens are held")
    func financingPaidOutsideTheToken() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("seller-a", tokens: 100)
        try ledger.enroll("buyer-b", tokens: 100)
        try ledger.register(Self.property, owners: [("seller-a", "1")])
        let proposal = ProposeDeed(
            cadastralNumber: cadastral(Self.property), sellers: [Deed.Seller(party: party("seller-a"), share: .whole)],
            buyers: [Deed.Buyer(party: party("buyer-b"), share: .whole, pays: Tiyn(10_000_000))],
            financing: Deed.Financing(bank: party("bank-1"), amount: Tiyn(30_000_000), documentHash: documentHash("loan")), paymentBank: party("bank-1"))
        // Another bank cannot vouch for the lender's disbursement.
        var throughAnother = proposal
        throughAnother.paymentBank = party("court-1")
        #expect(try ledger.submit("seller-a", .proposeDeed(throughAnother)).rejectionCode == "deed.invalid")
        let proposed = try ledger.submit("seller-a", .proposeDeed(proposal))
        #expect(proposed.isCommitted, "\(proposed)")
        let deed = try #require(try ledger.deed(proposed.transaction))
        #expect(deed.price == Self.price)
        #expect(try ledger.submit("buyer-b", .signDeed(SignDeed(deed: deed.id, termsHash: deed.termsHash))).isCommitted)
        let bank = try ledger.account("bank-1")
        let confirmed = try ledger.submit("bank-1", Self.confirmation(deed))
        #expect(confirmed.isCommitted, "\(confirmed)")
        #expect(confirmed.events.map(\.kind) == ["deed.payment_confirmed", "pledge.registered", "deed.settled"])
        #expect(try ledger.passport(Self.property)?.restrictions.map(\.holder) == [party("bank-1")])
        #expect(try ledger.account("bank-1") == Account(balance: Tiyn(bank.balance.rawValue - 10), held: .zero))
        try ledger.checkInvariants()
    }
}

private extension Deed {
    func signed(by name: String) -> Deed {
        var deed = self
        deed.signedBy.append(party(name))
        return deed
    }
}
