import TamgaCore
import TamgaLedger
import Testing

@Suite struct QueryTests {
    @Test func passportAsOfAnEarlierBlockAndAPartysProperties() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("seller-a", tokens: 100)
        try ledger.enroll("buyer-b", tokens: 1_000_000)
        try ledger.register("12-121-012-001", owners: [("seller-a", "1")])
        let before = ledger.version
        try ledger.submit("seller-a", .list(ListProperty(cadastralNumber: cadastral("12-121-012-001"), price: Tiyn(500_000))))
        #expect(try LedgerQueries(state: ledger.state).listing(cadastral("12-121-012-001"))?.price == Tiyn(500_000))
        try ledger.submit("buyer-b", .buy(Buy(cadastralNumber: cadastral("12-121-012-001"), price: Tiyn(500_000))))

        let now = LedgerQueries(state: ledger.state)
        let then = LedgerQueries(state: MapSnapshot(map: ledger.map, version: before))
        #expect(try now.passport(cadastral("12-121-012-001"))?.owners.map(\.party) == [party("buyer-b")])
        #expect(try then.passport(cadastral("12-121-012-001"))?.owners.map(\.party) == [party("seller-a")])
        #expect(try now.properties(of: party("buyer-b")) == [cadastral("12-121-012-001")])
        #expect(try now.properties(of: party("seller-a")) == [])
        #expect(try then.properties(of: party("seller-a")) == [cadastral("12-121-012-001")])
        #expect(try now.listing(cadastral("12-121-012-001")) == nil)
    }

    @Test func encumbranceCheck() throws {
        var ledger = LedgerHarness()
        try ledger.enroll("owner-a", tokens: 100)
        try ledger.register("12-121-012-002", owners: [("owner-a", "1")])
        let queries = { LedgerQueries(state: ledger.state) }
        #expect(try queries().encumbrances(cadastral("12-121-012-002"))?.isFree == true)
        #expect(try queries().encumbrances(cadastral("99-999-099-999")) == nil)
        try ledger.submit("court-1", .imposeArrest(ImposeArrest(cadastralNumber: cadastral("12-121-012-002"), orderHash: documentHash("order"))))
        let status = try #require(try queries().encumbrances(cadastral("12-121-012-002")))
        #expect(!status.isFree)
        #expect(status.restrictions.map(\.kind) == [.arrest])
        #expect(status.restrictions.first?.holder == party("court-1"))
    }
}
