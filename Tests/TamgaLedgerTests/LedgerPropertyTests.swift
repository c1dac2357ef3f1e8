import PropertyBased
import TamgaCore
import TamgaLedger
import Testing

/// Random sequences of valid and invalid transactions, with DESIGN.md's invariants checked after
/// every block.
@Suite struct LedgerPropertyTests {
    static let citizens = ["citizen-a", "citizen-b", "citizen-c", "citizen-d"]
    static let numbers = ["11-111-011-001", "11-111-011-002", "11-111-011-003"]

    static func start() throws -> LedgerHarness {
        var ledger = LedgerHarness()
        for name in citizens { try ledger.enroll(name, tokens: 2_000_000) }
        try ledger.register(numbers[0], owners: [("citizen-a", "1")])
        try ledger.register(numbers[1], owners: [("citizen-b", "1/3"), ("citizen-c", "2/3")])
        try ledger.register(numbers[2], owners: [("citizen-d", "1/2"), ("citizen-a", "1/4"), ("citizen-b", "1/4")])
        return ledger
    }

    /// Turns a number into a transaction; many are invalid on purpose (wrong signer, no funds, bad shares).
    static func transaction(_ code: Int, ledger: inout LedgerHarness, deeds: [TransactionID], arrests: [(String, TransactionID)]) -> SignedEnvelope {
        let actor = citizens[code % 4]
        let other = citizens[(code / 4) % 4]
        let number = cadastral(numbers[(code / 16) % 3])
        let amount = Tiyn(UInt64((code * 7919) % 1_500_000 + 1))
        switch (code / 48) % 9 {
        case 0:
            return ledger.envelope(actor, .transfer(Transfer(to: party(other), amount: amount)))
        case 1:
            let cosigners = citizens.filter { $0 != actor }.compactMap { ledger.keys[party($0)] }
            return ledger.envelope(actor, .list(ListProperty(cadastralNumber: number, price: amount)), cosigners: code % 2 == 0 ? cosigners : [])
        case 2:
            return ledger.envelope(actor, .buy(Buy(cadastralNumber: number, price: amount)))
        case 3:
            let sold = [share("1/4"), share("1/3"), share("1/2"), .whole][code % 4]
            return ledger.envelope(actor, .proposeDeed(ProposeDeed(cadastralNumber: number, sellers: [Deed.Seller(party: party(other), share: sold)],
                                                                   buyers: [Deed.Buyer(party: party(actor), share: sold, pays: amount)])))
        case 4, 5:
            guard let deed = deeds.last, let terms = try? ledger.deed(deed)?.termsHash else { fallthrough }
            return ledger.envelope(actor, .signDeed(SignDeed(deed: deed, termsHash: terms)))
        case 6:
            guard let deed = deeds.last else { fallthrough }
            return code % 2 == 0 ? ledger.envelope(actor, .cancelDeed(DeedReference(deed: deed)))
                : ledger.envelope("court-1", .invalidateDeed(InvalidateDeed(deed: deed, orderHash: documentHash("ruling \(code)"))))
        case 7:
            return ledger.envelope(code % 2 == 0 ? "bailiff-1" : actor, .imposeArrest(ImposeArrest(cadastralNumber: number, orderHash: documentHash("order \(code)"))))
        default:
            guard let (number, arrest) = arrests.last else {
                return ledger.envelope(actor, .transfer(Transfer(to: party(actor), amount: amount)))
            }
            return ledger.envelope(code % 3 == 0 ? "court-2" : "bailiff-2", .liftArrest(LiftArrest(cadastralNumber: cadastral(number), arrest: arrest, orderHash: documentHash("lift"))))
        }
    }

    @Test func invariantsHoldAfterEveryBlock() async {
        await propertyCheck(count: 40, input: Gen.int(in: 0...100_000).array(of: 5...40)) { codes in
            var ledger = try! Self.start()
            var deeds: [TransactionID] = []
            var arrests: [(String, TransactionID)] = []
            for code in codes {
                let envelope = Self.transaction(code, ledger: &ledger, deeds: deeds, arrests: arrests)
                let before = try! AttackTests.snapshot(ledger)
                let receipt = try! ledger.block([envelope], advancing: UInt64(code % 5) * 3_600_000)[0]
                if receipt.isCommitted {
                    if receipt.events.contains(where: { $0.kind == "deed.opened" }) { deeds.append(receipt.transaction) }
                    if let arrest = receipt.events.first(where: { $0.kind == "arrest.imposed" }) { arrests.append((arrest.properties[0].rawValue, receipt.transaction)) }
                } else {
                    // A rejected transaction changes nothing but the signer's nonce and fee.
                    let after = try! AttackTests.snapshot(ledger)
                    let signer = (try? TransactionPayload.decode(envelope.payload).signer).map { [RecordKey.nonce($0), RecordKey.account($0)] } ?? []
                    let allowed = Set(signer + [RecordKey.feePool] + AttackTests.operatorAccounts)
                    for key in Set(before.keys).union(after.keys) where !allowed.contains(key) {
                        // Expiry at the end of a block may release holds; compare only keys the block did not legitimately touch.
                        if String(decoding: key, as: UTF8.self).hasPrefix("account/") || key == Array("deeds/open".utf8) { continue }
                        #expect(before[key] == after[key], "\(receipt.rejectionCode ?? "") changed \(String(decoding: key, as: UTF8.self))")
                    }
                }
                try! ledger.checkInvariants()
            }
        }
    }

    @Test(arguments: [false, true])
    func twoExecutionsOfTheSameBlocksGiveTheSameRoot(secondUsesCache: Bool) throws {
        var first = try Self.start(), second = try Self.start()
        // With a cache carried between blocks, the outcome must not change.
        if secondUsesCache { second.cache = LedgerStateCache() }
        var deeds: [TransactionID] = []
        var random = UInt64(7)
        for _ in 0..<60 {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            let code = Int(random >> 40)
            let envelope = Self.transaction(code, ledger: &first, deeds: deeds, arrests: [])
            second.nonces = first.nonces
            let receipt = try first.block([envelope])[0]
            let again = try second.block([envelope])[0]
            #expect(receipt == again)
            if receipt.events.contains(where: { $0.kind == "deed.opened" }) { deeds.append(receipt.transaction) }
            #expect(try first.map.rootHash(at: first.version) == second.map.rootHash(at: second.version))
        }
    }
}
