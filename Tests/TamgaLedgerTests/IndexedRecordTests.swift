import TamgaCore
import TamgaLedger
import Testing

@Suite("Indexed records found in a state without its blocks")
struct IndexedRecordTests {
    @Test("of every record in a state, exactly the listings, the pledges awaiting review and the open deeds are found; a record under another key hash is not")
    func recognisedByShapeAndProvenByKeyHash() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 1_000)
        try ledger.enroll("buyer-b", tokens: 1_000)
        for number in ["07-007-007-001", "07-007-007-002", "07-007-007-003"] { try ledger.register(number, owners: [("owner-a", "1")]) }
        #expect(try ledger.submit("owner-a", .list(ListProperty(cadastralNumber: cadastral("07-007-007-001"), price: Tiyn(500)))).isCommitted)
        #expect(try ledger.submit("owner-a", .list(ListProperty(cadastralNumber: cadastral("07-007-007-002"), price: Tiyn(500)))).isCommitted)
        #expect(try ledger.submit("owner-a", .withdrawListing(WithdrawListing(cadastralNumber: cadastral("07-007-007-002")))).isCommitted)
        let waiting = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral("07-007-007-003"), loanAmount: Tiyn(9), documents: [documentHash("loan")])))
        let rejected = try ledger.submit("bank-1", .proposePledge(ProposePledge(cadastralNumber: cadastral("07-007-007-003"), loanAmount: Tiyn(8), documents: [documentHash("loan")])))
        #expect(try ledger.submit("registrar-1", .rejectPledge(RejectPledge(pledge: rejected.transaction, reason: "unsigned"))).isCommitted)
        let open = try ledger.submit("buyer-b", .proposeDeed(ProposeDeed(cadastralNumber: cadastral("07-007-007-002"), sellers: [Deed.Seller(party: party("owner-a"), share: .whole)],
                                                                        buyers: [Deed.Buyer(party: party("buyer-b"), share: .whole, pays: Tiyn(100))])))
        let cancelled = try ledger.submit("buyer-b", .proposeDeed(ProposeDeed(cadastralNumber: cadastral("07-007-007-003"), sellers: [Deed.Seller(party: party("owner-a"), share: .whole)],
                                                                             buyers: [Deed.Buyer(party: party("buyer-b"), share: .whole, pays: Tiyn(100))])))
        #expect(try ledger.submit("buyer-b", .cancelDeed(DeedReference(deed: cancelled.transaction))).isCommitted)
        #expect([waiting, open, cancelled].allSatisfy { $0.isCommitted })

        let records = try (0..<StateSnapshot.prefixCount).flatMap { try ledger.map.snapshotRecords(prefix: $0, at: ledger.version) }
        let found = records.compactMap { IndexedRecord(keyHash: $0.keyHash, value: $0.value) }
        #expect(found.count == 3)
        #expect(found.contains(.listing(cadastral("07-007-007-001"))))
        #expect(found.contains { if case let .pledgeUnderReview(pledge) = $0 { pledge.id == waiting.transaction } else { false } })
        #expect(found.contains { if case let .openDeed(deed) = $0 { deed.id == open.transaction } else { false } })

        // The same bytes under another key's hash (a peer cannot pass a record off under a key of
        // its choosing once the snapshot verified, but the recogniser does not rely on that alone).
        let listing = try #require(try ledger.map.value(forKey: RecordKey.listing(cadastral("07-007-007-001")), at: ledger.version))
        #expect(IndexedRecord(keyHash: .sha256(RecordKey.listing(cadastral("07-007-007-002"))), value: listing) == nil)
        #expect(IndexedRecord(keyHash: .sha256(RecordKey.listing(cadastral("07-007-007-001"))), value: listing) == .listing(cadastral("07-007-007-001")))
    }
}
