import TamgaCore
import TamgaLedger
import Testing

@Suite struct CourtTests {
    static func soldProperty() throws -> (LedgerHarness, TransactionID) {
        var ledger = LedgerHarness()
        try ledger.enroll("seller-a", tokens: 100)
        try ledger.enroll("buyer-b", tokens: 5_000_000)
        try ledger.enroll("shop", tokens: 0)
        try ledger.register("08-088-008-008", owners: [("seller-a", "1")])
        try ledger.submit("seller-a", .list(ListProperty(cadastralNumber: cadastral("08-088-008-008"), price: Tiyn(3_000_000))))
        let bought = try ledger.submit("buyer-b", .buy(Buy(cadastralNumber: cadastral("08-088-008-008"), price: Tiyn(3_000_000))))
        #expect(bought.isCommitted)
        return (ledger, bought.transaction)
    }

    @Test func invalidatingASaleRestoresOwnershipAndRefundsInFull() throws {
        var (ledger, deed) = try Self.soldProperty()
        let order = try ledger.submit("court-1", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("ruling 1"))))
        #expect(order.isCommitted, "\(order)")
        #expect(try ledger.owners("08-088-008-008") == ["seller-a": "1"])
        #expect(try ledger.account("buyer-b").balance == Tiyn(5_000_000 - 10))
        #expect(try ledger.account("seller-a").balance == Tiyn(100 - 10))
        #expect(try ledger.deed(deed)?.status == .invalidated)
        // History keeps both: the deed and the order are among the passport's documents.
        let documents = try #require(try ledger.passport("08-088-008-008")?.documents)
        #expect(documents.suffix(2) == [deed.hash, documentHash("ruling 1")])
        #expect(try ledger.submit("court-1", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("again")))).rejectionCode == "court.deed_not_settled")
        try ledger.checkInvariants()
    }

    @Test func aSellerWhoSpentTheMoneyLeavesAClaim() throws {
        var (ledger, deed) = try Self.soldProperty()
        #expect(try ledger.submit("seller-a", .transfer(Transfer(to: party("shop"), amount: Tiyn(2_500_000)))).isCommitted)
        let order = try ledger.submit("court-2", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("ruling 2"))))
        #expect(order.isCommitted, "\(order)")
        #expect(try ledger.owners("08-088-008-008") == ["seller-a": "1"])
        // The seller had 3,000,000 + 90 − 10 − 2,500,000 = 500,080 left: all of it goes back.
        #expect(try ledger.account("seller-a").balance == .zero)
        #expect(try ledger.account("buyer-b").balance == Tiyn(5_000_000 - 3_000_000 - 10 + 500_080))
        let claim = try #require(order.events.first { $0.kind == "claim.recorded" })
        #expect(claim.amount == Tiyn(2_499_920))
        #expect(claim.parties == [party("buyer-b"), party("seller-a")])
        try ledger.checkInvariants()
    }

    @Test func onlyACourtInvalidatesOrOrdersTransfers() throws {
        var (ledger, deed) = try Self.soldProperty()
        #expect(try ledger.submit("registrar-1", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("x")))).rejectionCode == "auth.role_required")
        let order = OrderTransfer(cadastralNumber: cadastral("08-088-008-008"), from: [Ownership(party: party("buyer-b"), share: share("1/2"))],
                                  to: [Ownership(party: party("seller-a"), share: share("1/2"))], orderHash: documentHash("division"))
        #expect(try ledger.submit("bailiff-1", .orderTransfer(order)).rejectionCode == "auth.role_required")
        #expect(try ledger.submit("court-1", .orderTransfer(order)).isCommitted)
        #expect(try ledger.owners("08-088-008-008") == ["buyer-b": "1/2", "seller-a": "1/2"])
        try ledger.checkInvariants()
    }
}

@Suite struct KeyRecoveryTests {
    @Test func recoveryByTwoRegistrarsAfterTheTimeLock() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("citizen-a", tokens: 1_000)
        let newKey = SigningKey()
        let request = try ledger.submit("registrar-1", .requestRecovery(RequestRecovery(party: party("citizen-a"), newKey: newKey.publicKey,
                                                                                       verificationHash: documentHash("passport check"))), cosigners: [newKey])
        #expect(request.isCommitted, "\(request)")
        let reference = RecoveryReference(recovery: request.transaction)
        #expect(try ledger.submit("registrar-1", .approveRecovery(reference)).rejectionCode == "recovery.same_registrar")
        #expect(try ledger.submit("registrar-2", .approveRecovery(reference)).isCommitted)
        #expect(try ledger.submit("registrar-1", .completeRecovery(reference)).rejectionCode == "recovery.time_locked")
        try ledger.block([], advancing: 73 * 3_600_000)
        #expect(try ledger.submit("registrar-1", .completeRecovery(reference)).isCommitted)
        // The old key no longer signs for the party; the new one does.
        let old = try ledger.submit("citizen-a", .transfer(Transfer(to: party("registrar-1"), amount: Tiyn(1))))
        #expect(old.rejectionCode == "tx.unknown_key")
        ledger.keys[party("citizen-a")] = newKey
        #expect(try ledger.submit("citizen-a", .transfer(Transfer(to: party("registrar-1"), amount: Tiyn(1)))).isCommitted)
    }

    @Test func theOldKeyCancelsAnUnwantedRecovery() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("citizen-a", tokens: 1_000)
        let attackerKey = SigningKey()
        let request = try ledger.submit("registrar-1", .requestRecovery(RequestRecovery(party: party("citizen-a"), newKey: attackerKey.publicKey,
                                                                                       verificationHash: documentHash("forged papers"))), cosigners: [attackerKey])
        let reference = RecoveryReference(recovery: request.transaction)
        #expect(try ledger.submit("registrar-2", .approveRecovery(reference)).isCommitted)
        #expect(try ledger.submit("citizen-a", .cancelRecovery(reference)).isCommitted)
        try ledger.block([], advancing: 73 * 3_600_000)
        #expect(try ledger.submit("registrar-1", .completeRecovery(reference)).rejectionCode == "recovery.not_pending")
        #expect(try ledger.submit("citizen-a", .transfer(Transfer(to: party("registrar-1"), amount: Tiyn(1)))).isCommitted)
    }

    @Test func keysAreAddedWithProofAndNeverAllRevoked() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("citizen-a", tokens: 1_000)
        let second = SigningKey()
        #expect(try ledger.submit("citizen-a", .addKey(AddKey(publicKey: second.publicKey))).rejectionCode == "identity.proof_of_key_missing")
        #expect(try ledger.submit("citizen-a", .addKey(AddKey(publicKey: second.publicKey)), cosigners: [second]).isCommitted)
        let first = ledger.keys[party("citizen-a")]!.publicKey.keyID
        #expect(try ledger.submit("citizen-a", .revokeKey(RevokeKey(keyId: first))).isCommitted)
        ledger.keys[party("citizen-a")] = second
        #expect(try ledger.submit("citizen-a", .revokeKey(RevokeKey(keyId: second.publicKey.keyID))).rejectionCode == "identity.last_key")
    }
}

@Suite struct CorrectionAndGovernanceTests {
    @Test func aCorrectionNeedsTwoDifferentRegistrarsAndTellsTheOwners() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 100)
        try ledger.register("10-100-010-010", owners: [("owner-a", "1")])
        let proposed = try ledger.submit("registrar-1", .proposeCorrection(ProposeCorrection(cadastralNumber: cadastral("10-100-010-010"),
                                                                                             area: AreaHundredths(9_100), documentHash: documentHash("survey"))))
        #expect(proposed.events[0].parties.contains(party("owner-a")))
        let alone = try ledger.submit("registrar-1", .approveCorrection(CorrectionReference(correction: proposed.transaction)))
        #expect(alone.rejectionCode == "correction.same_registrar")
        #expect(try ledger.passport("10-100-010-010")?.area == AreaHundredths(8_450))
        let approved = try ledger.submit("registrar-2", .approveCorrection(CorrectionReference(correction: proposed.transaction)))
        #expect(approved.isCommitted)
        #expect(approved.events[0].parties.contains(party("owner-a")))
        #expect(try ledger.passport("10-100-010-010")?.area == AreaHundredths(9_100))
        #expect(try ledger.owners("10-100-010-010") == ["owner-a": "1"])
    }

    @Test func governanceNeedsMoreThanTwoThirdsOfTheOperators() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("new-bank", tokens: 100)
        let proposed = try ledger.submit("operator-1", .proposeGovernance(ProposeGovernance(change: .grantRole(party: party("new-bank"), role: .bank))))
        #expect(proposed.isCommitted)
        // One of two operators is not more than two thirds: the bank cannot act yet.
        #expect(try ledger.submit("new-bank", .proposePledge(ProposePledge(cadastralNumber: cadastral("01-001-001-1"), loanAmount: Tiyn(1), documents: [documentHash("l")]))).rejectionCode == "auth.role_required")
        #expect(try ledger.submit("registrar-1", .approveGovernance(GovernanceReference(proposal: proposed.transaction))).rejectionCode == "auth.role_required")
        let approved = try ledger.submit("operator-2", .approveGovernance(GovernanceReference(proposal: proposed.transaction)))
        #expect(approved.events.map(\.kind) == ["governance.approved", "governance.applied"])
        #expect(try ledger.submit("new-bank", .proposePledge(ProposePledge(cadastralNumber: cadastral("01-001-001-1"), loanAmount: Tiyn(1), documents: [documentHash("l")]))).rejectionCode == "property.unknown")
        #expect(try ledger.submit("operator-2", .approveGovernance(GovernanceReference(proposal: proposed.transaction))).rejectionCode == "governance.closed")
    }
}
