import TamgaCore

extension Ledger {
    /// `court.invalidate`: a court reverses a settled deed by a new, compensating transaction.
    /// Ownership goes back to the sellers; each payer (buyer or financing bank) is refunded from
    /// the sellers' balances as far as they allow, and any shortfall is recorded as a claim on the
    /// seller. The original deed and its settlement stay in history.
    func invalidateDeed(_ body: InvalidateDeed, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.court, of: context.signer, for: "invalidating a deed")
        guard var deed = try state.record(Deed.self, RecordKey.deed(body.deed)) else { throw Rejection(.unknownDeed, "no deed \(body.deed)") }
        guard deed.status == .settled else { throw Rejection(.deedNotSettled, "deed \(deed.id) is \(deed.status.rawValue), not settled") }
        var passport = try state.passport(deed.cadastralNumber)
        try passport.moveShares(from: deed.buyers.map { Ownership(party: $0.party, share: $0.share) },
                                to: deed.sellers.map { Ownership(party: $0.party, share: $0.share) }) { buyer in
            Rejection(.ownershipMoved, "\(buyer.party) no longer owns the share \(buyer.share); order the transfers with court.transfer")
        }
        guard Share.sumIsWhole(passport.owners.map(\.share)) else { throw Rejection(.invalidShares, "the invalidation would not keep the shares whole") }
        // Pledges that came with or after the deed (its financing, and any the buyers gave while
        // they held the title) go with it: a pledge binds only what its giver owned. Pledges the
        // deed took over from before stay, and so do arrests, which only their authority lifts.
        for restriction in passport.restrictions where restriction.kind == .pledge && !deed.acceptedPledges.contains(restriction.id) {
            guard restriction.since >= deed.createdAt, var pledge = try state.record(Pledge.self, RecordKey.pledge(restriction.id)) else { continue }
            pledge.status = .released
            state.put(pledge, at: RecordKey.pledge(pledge.id))
            passport.restrictions.removeAll { $0.id == pledge.id }
            context.emit(LedgerEvent("pledge.voided", parties: [pledge.bank] + deed.parties, properties: [deed.cadastralNumber], deed: deed.id))
        }
        passport.documents.append(body.orderHash)
        try state.save(passport, context: &context)

        // Match what each seller received with what each payer paid, in party order, and refund
        // each matched part as far as the seller's balance allows. A price paid outside the token
        // cannot be refunded by the ledger: all of it is recorded as claims, for the court's order
        // to be enforced outside.
        var owed = try Self.sellerPayments(deed, collected: deed.price).sorted { $0.0 < $1.0 }
        var entitled = (deed.buyers.map { ($0.party, $0.pays) } + (deed.financing.map { [($0.bank, $0.amount)] } ?? [])).sorted { $0.0 < $1.0 }
        var claims: [Claim] = []
        var refunded = Tiyn.zero
        var sellerIndex = 0, payerIndex = 0
        while sellerIndex < owed.count, payerIndex < entitled.count {
            let part = min(owed[sellerIndex].1, entitled[payerIndex].1)
            let (seller, payer) = (owed[sellerIndex].0, entitled[payerIndex].0)
            let available = deed.isPaidOutsideToken ? .zero : try state.account(seller).balance
            let paid = min(part, available)
            if paid > .zero {
                try move(paid, from: seller, to: payer, state: &state)
                refunded = try refunded.plus(paid)
            }
            if paid < part { claims.append(Claim(debtor: seller, creditor: payer, amount: try part.minus(paid))) }
            owed[sellerIndex].1 = try owed[sellerIndex].1.minus(part)
            entitled[payerIndex].1 = try entitled[payerIndex].1.minus(part)
            if owed[sellerIndex].1 == .zero { sellerIndex += 1 }
            if entitled[payerIndex].1 == .zero { payerIndex += 1 }
        }
        if !claims.isEmpty { state.put(claims, at: RecordKey.claims(deed.id)) }
        deed.status = .invalidated
        state.put(deed, at: RecordKey.deed(deed.id))
        context.emit(LedgerEvent("deed.invalidated", parties: deed.parties + [context.signer], properties: [deed.cadastralNumber], deed: deed.id, amount: refunded))
        for claim in claims {
            context.emit(LedgerEvent("claim.recorded", parties: [claim.debtor, claim.creditor], properties: [deed.cadastralNumber], deed: deed.id, amount: claim.amount))
        }
    }

    /// `court.transfer`: a court orders shares moved from some owners to other parties.
    func orderTransfer(_ body: OrderTransfer, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.court, of: context.signer, for: "ordering a transfer")
        var passport = try state.passport(body.cadastralNumber)
        guard !body.from.isEmpty, !body.to.isEmpty, body.from.count + body.to.count <= Limits.deedPartiesMax else {
            throw Rejection(.invalidShares, "an order moves shares from 1 or more owners to 1 or more parties")
        }
        var taken = Share.none, given = Share.none
        do {
            for entry in body.from {
                guard !entry.share.isZero else { throw Rejection(.invalidShares, "nothing is taken from \(entry.party)") }
                taken = try taken.adding(entry.share)
            }
            for entry in body.to {
                _ = try state.party(entry.party)
                guard !entry.share.isZero else { throw Rejection(.invalidShares, "\(entry.party) would receive nothing") }
                given = try given.adding(entry.share)
            }
        } catch let error as ShareError {
            throw Rejection(.invalidShares, error.message)
        }
        guard taken == given else { throw Rejection(.invalidShares, "the order takes \(taken) but gives \(given)") }
        let before = passport.owners.map(\.party)
        try passport.moveShares(from: body.from, to: body.to) { entry in
            Rejection(.sharesExceedOwnership, "\(entry.party) does not own the share \(entry.share)")
        }
        guard Share.sumIsWhole(passport.owners.map(\.share)) else { throw Rejection(.invalidShares, "the order must keep the shares whole") }
        passport.documents.append(body.orderHash)
        try state.save(passport, context: &context)
        context.emit(LedgerEvent("court.transferred", parties: before + passport.owners.map(\.party) + [context.signer], properties: [body.cadastralNumber]))
    }
}
