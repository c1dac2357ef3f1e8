import TamgaCore

extension RecordKey {
    /// The ids of open deeds, sorted, so that expiry at the end of a block needs no scan.
    static let openDeeds: [UInt8] = Array("deeds/open".utf8)
    /// The ids of open deeds on one property, sorted: what a change of its ownership voids.
    static func propertyDeeds(_ number: CadastralNumber) -> [UInt8] { Array("deeds/property/\(number)".utf8) }
}

extension Ledger {
    /// `sale.list`: all co-owners offer the property at a price (every owner signs the envelope).
    func list(_ body: ListProperty, context: inout ExecutionContext, state: inout WorkingState) throws {
        let passport = try state.passport(body.cadastralNumber)
        guard passport.share(of: context.signer) != nil else {
            throw Rejection(.notAnOwner, "\(context.signer) does not own \(body.cadastralNumber)")
        }
        let missing = passport.owners.map(\.party).filter { !context.signers.contains($0) }
        guard missing.isEmpty else {
            throw Rejection(.ownersSignatureMissing, "co-owners \(missing.map(\.rawValue).joined(separator: ", ")) did not sign the listing")
        }
        guard body.price > .zero else { throw Rejection(.invalidAmount, "the price must be positive") }
        guard !passport.isArrested else { throw Rejection(.propertyArrested, "\(body.cadastralNumber) is under arrest") }
        state.put(Listing(cadastralNumber: body.cadastralNumber, price: body.price, listedAt: context.blockTime, owners: passport.owners),
                  at: RecordKey.listing(body.cadastralNumber))
        context.emit(LedgerEvent("sale.listed", parties: passport.owners.map(\.party), properties: [body.cadastralNumber], amount: body.price))
    }

    /// `sale.withdraw`: any one owner takes the property off sale (listing needs every owner's
    /// consent, so any one of them may take it back).
    func withdrawListing(_ body: WithdrawListing, context: inout ExecutionContext, state: inout WorkingState) throws {
        let passport = try state.passport(body.cadastralNumber)
        guard passport.share(of: context.signer) != nil else {
            throw Rejection(.notAnOwner, "\(context.signer) does not own \(body.cadastralNumber)")
        }
        guard try state.record(Listing.self, RecordKey.listing(body.cadastralNumber)) != nil else {
            throw Rejection(.notListed, "\(body.cadastralNumber) is not for sale")
        }
        state.remove(RecordKey.listing(body.cadastralNumber))
        context.emit(LedgerEvent("sale.withdrawn", parties: passport.owners.map(\.party), properties: [body.cadastralNumber]))
    }

    /// `sale.buy`: a buyer takes a listing at its price. The owners agreed by listing, so the deed
    /// is signed by every party at once; the price is held and the deed settles in this
    /// transaction unless a notary's attestation is required.
    func buy(_ body: Buy, context: inout ExecutionContext, state: inout WorkingState) throws {
        guard let listing = try state.record(Listing.self, RecordKey.listing(body.cadastralNumber)) else {
            throw Rejection(.notListed, "\(body.cadastralNumber) is not for sale")
        }
        guard listing.price == body.price else {
            throw Rejection(.priceChanged, "the listed price is \(listing.price), not \(body.price)")
        }
        let passport = try state.passport(body.cadastralNumber)
        // The listing is the consent of the owners who made it, for the shares they held then;
        // a change of ownership withdraws it (`save`), and this check holds the rule on its own.
        guard listing.owners == passport.owners else {
            throw Rejection(.listingStale, "the owners of \(body.cadastralNumber) changed since it was listed")
        }
        guard passport.share(of: context.signer) == nil else { throw Rejection(.invalidDeed, "an owner cannot buy its own property") }
        state.remove(RecordKey.listing(body.cadastralNumber))
        let deed = try openDeed(
            cadastralNumber: body.cadastralNumber,
            sellers: passport.owners.map { Deed.Seller(party: $0.party, share: $0.share) },
            buyers: [Deed.Buyer(party: context.signer, share: .whole, pays: listing.price)],
            financing: nil, acceptedPledges: [], paymentBank: nil, context: context, state: state
        )
        context.emit(LedgerEvent("deed.opened", parties: deed.parties, properties: [deed.cadastralNumber], deed: deed.id, amount: deed.price))
        var signed = deed
        for party in deed.parties { try addSignature(of: party, to: &signed, state: &state) }
        try finish(signed, context: &context, state: &state)
    }

    /// `deed.propose`: a deed between several sellers and buyers, proposed by one of its parties,
    /// whose signature counts at once.
    func proposeDeed(_ body: ProposeDeed, context: inout ExecutionContext, state: inout WorkingState) throws {
        let deed = try openDeed(cadastralNumber: body.cadastralNumber, sellers: body.sellers, buyers: body.buyers, financing: body.financing,
                                acceptedPledges: body.acceptedPledges ?? [], paymentBank: body.paymentBank, context: context, state: state)
        guard deed.parties.contains(context.signer) else {
            throw Rejection(.notADeedParty, "\(context.signer) is not a party to the deed it proposes")
        }
        guard context.signer != deed.paymentBank else {
            throw Rejection(.paymentNotDue, "the paying bank confirms a payment once the parties have signed; it does not propose the deed")
        }
        context.emit(LedgerEvent("deed.opened", parties: deed.parties, properties: [deed.cadastralNumber], deed: deed.id, amount: deed.price))
        var signed = deed
        try addSignature(of: context.signer, to: &signed, state: &state)
        try finish(signed, context: &context, state: &state)
    }

    /// `deed.sign`: a party agrees to the deed's terms; a buyer's signature holds its payment.
    func signDeed(_ body: SignDeed, context: inout ExecutionContext, state: inout WorkingState) throws {
        var deed = try openDeedRecord(body.deed, context: context, state: state)
        guard deed.parties.contains(context.signer) else { throw Rejection(.notADeedParty, "\(context.signer) is not a party to deed \(deed.id)") }
        guard !deed.signedBy.contains(context.signer) else { throw Rejection(.alreadySigned, "\(context.signer) already signed deed \(deed.id)") }
        guard context.signer != deed.paymentBank else {
            throw Rejection(.paymentNotDue, "the paying bank agrees to deed \(deed.id) by confirming its payment (deed.confirm_payment)")
        }
        guard body.termsHash == deed.termsHash else {
            throw Rejection(.termsMismatch, "the signed terms \(body.termsHash) are not the deed's terms \(deed.termsHash)")
        }
        try addSignature(of: context.signer, to: &deed, state: &state)
        context.emit(LedgerEvent("deed.signed", parties: deed.parties, properties: [deed.cadastralNumber], deed: deed.id))
        try finish(deed, context: &context, state: &state)
    }

    /// `deed.confirm_payment`: the bank a deed names as its buyers' bank confirms that the price
    /// was paid outside the token. It comes last, once every other party has signed (and a
    /// required notary has attested), so the deed settles in this transaction; the bank vouches
    /// for a payment the ledger cannot see, which is why it must be named in the signed terms.
    func confirmPayment(_ body: ConfirmPayment, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.bank, of: context.signer, for: "confirming a payment")
        var deed = try openDeedRecord(body.deed, context: context, state: state)
        guard deed.paymentBank == context.signer else {
            throw Rejection(.notThePaymentBank, "deed \(deed.id) is not paid through \(context.signer)")
        }
        guard body.termsHash == deed.termsHash else {
            throw Rejection(.termsMismatch, "the confirmed terms \(body.termsHash) are not the deed's terms \(deed.termsHash)")
        }
        let unsigned = deed.parties.filter { $0 != context.signer && !deed.signedBy.contains($0) }
        guard unsigned.isEmpty else {
            throw Rejection(.paymentNotDue, "deed \(deed.id) still needs the signatures of \(unsigned.map(\.rawValue).joined(separator: ", "))")
        }
        if deed.notaryRequired {
            // As in `finish`: an attestation counts only while its notary still holds the role.
            guard let notary = deed.attestedBy, try state.party(notary).has(.notary) else {
                throw Rejection(.attestationMissing, "deed \(deed.id) needs a notary's attestation before its payment")
            }
        }
        deed.signedBy.append(context.signer)
        deed.paymentOrderHash = body.paymentOrderHash
        context.emit(LedgerEvent("deed.payment_confirmed", parties: deed.parties, properties: [deed.cadastralNumber], deed: deed.id, amount: deed.price))
        try finish(deed, context: &context, state: &state)
    }

    /// `deed.attest`: a notary attests the parties' free will.
    func attestDeed(_ body: DeedReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.notary, of: context.signer, for: "attesting a deed")
        var deed = try openDeedRecord(body.deed, context: context, state: state)
        guard !deed.parties.contains(context.signer) else { throw Rejection(.invalidDeed, "a notary cannot attest a deed it is party to") }
        deed.attestedBy = context.signer
        context.emit(LedgerEvent("deed.attested", parties: deed.parties + [context.signer], properties: [deed.cadastralNumber], deed: deed.id))
        try finish(deed, context: &context, state: &state)
    }

    /// `deed.cancel`: any party withdraws before settlement; every hold is released.
    func cancelDeed(_ body: DeedReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        var deed = try openDeedRecord(body.deed, context: context, state: state)
        guard deed.parties.contains(context.signer) else { throw Rejection(.notADeedParty, "\(context.signer) is not a party to deed \(deed.id)") }
        try state.close(&deed, as: .cancelled)
        context.emit(LedgerEvent("deed.cancelled", parties: deed.parties, properties: [deed.cadastralNumber], deed: deed.id))
    }

    // MARK: Deed mechanics

    /// A new open deed, checked against the passport: sellers own what they sell, buyers receive
    /// exactly what is sold, the payments add up, and the property is not under arrest.
    private func openDeed(cadastralNumber: CadastralNumber, sellers: [Deed.Seller], buyers: [Deed.Buyer], financing: Deed.Financing?,
                          acceptedPledges: [TransactionID], paymentBank: PartyID?, context: ExecutionContext, state: WorkingState) throws -> Deed {
        let passport = try state.passport(cadastralNumber)
        guard !passport.isArrested else { throw Rejection(.propertyArrested, "\(cadastralNumber) is under arrest") }
        guard !sellers.isEmpty, !buyers.isEmpty, sellers.count + buyers.count <= Limits.deedPartiesMax else {
            throw Rejection(.invalidDeed, "a deed needs at least one seller and one buyer, and at most \(Limits.deedPartiesMax) parties")
        }
        let sellerParties = sellers.map(\.party), buyerParties = buyers.map(\.party)
        guard Set(sellerParties).count == sellers.count, Set(buyerParties).count == buyers.count, Set(sellerParties).isDisjoint(with: buyerParties) else {
            throw Rejection(.invalidDeed, "each party appears once, as a seller or as a buyer")
        }
        var sold = Share.none, bought = Share.none
        var price = Tiyn.zero
        do {
            for seller in sellers {
                guard !seller.share.isZero, let owned = passport.share(of: seller.party), seller.share <= owned else {
                    throw Rejection(.sharesExceedOwnership, "\(seller.party) does not own the share \(seller.share) of \(cadastralNumber)")
                }
                sold = try sold.adding(seller.share)
            }
            for buyer in buyers {
                guard !buyer.share.isZero else { throw Rejection(.invalidDeed, "buyer \(buyer.party) receives no share") }
                _ = try state.party(buyer.party)
                bought = try bought.adding(buyer.share)
                guard let total = price.adding(buyer.pays) else { throw Rejection(.invalidAmount, "the payments overflow") }
                price = total
            }
        } catch let error as ShareError {
            throw Rejection(.invalidDeed, error.message)
        }
        guard sold == bought else { throw Rejection(.invalidDeed, "the buyers receive \(bought), but the sellers sell \(sold)") }
        if let financing {
            guard try state.party(financing.bank).has(.bank) else {
                throw Rejection(.roleRequired, "financing needs the bank role, which \(financing.bank) does not have")
            }
            guard !sellerParties.contains(financing.bank), !buyerParties.contains(financing.bank), financing.amount > .zero,
                  let total = price.adding(financing.amount)
            else { throw Rejection(.invalidDeed, "the financing bank pays a positive amount and is neither seller nor buyer") }
            price = total
        }
        if let paymentBank {
            // Paid outside the token, a financed deed's loan is paid through the bank that lends
            // it: otherwise one bank would vouch for another's disbursement and that one take the pledge.
            if let financing, financing.bank != paymentBank {
                throw Rejection(.invalidDeed, "a financed deed paid outside the token is paid through its financing bank \(financing.bank)")
            }
            guard try state.party(paymentBank).has(.bank) else {
                throw Rejection(.roleRequired, "a payment outside the token is confirmed by a bank, which \(paymentBank) is not")
            }
            guard !sellerParties.contains(paymentBank), !buyerParties.contains(paymentBank) else {
                throw Rejection(.invalidDeed, "the paying bank is neither seller nor buyer")
            }
        }
        let pledged = Set(passport.restrictions.filter { $0.kind == .pledge }.map(\.id))
        guard Set(acceptedPledges).isSubset(of: pledged), acceptedPledges.count <= 16 else {
            throw Rejection(.unknownPledge, "an accepted pledge is not registered on \(cadastralNumber)")
        }
        guard price > .zero else { throw Rejection(.invalidAmount, "the price must be positive") }
        let parameters = try state.record(Parameters.self, RecordKey.parameters) ?? Parameters()
        return Deed(id: context.id, cadastralNumber: cadastralNumber, sellers: sellers.sorted { $0.party < $1.party },
                    buyers: buyers.sorted { $0.party < $1.party }, financing: financing, acceptedPledges: Array(Set(acceptedPledges)).sorted(),
                    price: price, signedBy: [], holds: [],
                    notaryRequired: parameters.notaryAttestationRequired, attestedBy: nil, status: .open,
                    createdAt: context.blockTime, expiresAt: try context.blockTime.adding(millis: parameters.deedLifetimeMillis),
                    paymentBank: paymentBank)
    }

    private func openDeedRecord(_ id: TransactionID, context: ExecutionContext, state: WorkingState) throws -> Deed {
        guard let deed = try state.record(Deed.self, RecordKey.deed(id)) else { throw Rejection(.unknownDeed, "no deed \(id)") }
        guard deed.status == .open else { throw Rejection(.deedClosed, "deed \(id) is \(deed.status.rawValue)") }
        guard context.blockTime <= deed.expiresAt else { throw Rejection(.deedExpired, "deed \(id) expired at \(deed.expiresAt)") }
        return deed
    }

    /// Records a party's signature; a buyer's or the financing bank's holds its payment from its
    /// available balance, unless the deed is paid outside the token.
    private func addSignature(of party: PartyID, to deed: inout Deed, state: inout WorkingState) throws {
        deed.signedBy.append(party)
        guard !deed.isPaidOutsideToken else { return }
        let payment = deed.buyers.first { $0.party == party }?.pays ?? (deed.financing?.bank == party ? deed.financing?.amount : nil) ?? .zero
        guard payment > .zero else { return }
        var account = try state.account(party)
        guard let left = account.balance.subtracting(payment) else {
            throw Rejection(.insufficientFunds, "\(party) has less available than its payment \(payment)")
        }
        account.balance = left
        account.held = try account.held.plus(payment)
        state.put(account, at: RecordKey.account(party))
        deed.holds.append(Ownership.Hold(party: party, amount: payment))
    }

    /// Saves the deed, settling it if every signature (and any required attestation) is in.
    private func finish(_ deed: Deed, context: inout ExecutionContext, state: inout WorkingState) throws {
        var deed = deed
        // An attestation counts only while its notary still holds the role.
        if let notary = deed.attestedBy, try !state.party(notary).has(.notary) { deed.attestedBy = nil }
        if deed.isFullySigned && (!deed.notaryRequired || deed.attestedBy != nil) {
            try settle(&deed, context: &context, state: &state)
            return
        }
        state.put(deed, at: RecordKey.deed(deed.id))
        try state.addToOpen(deed)
    }

    /// Atomic settlement: shares move from sellers to buyers, the held payments go to the sellers
    /// pro rata to the shares they sold, and the deed is closed.
    private func settle(_ deed: inout Deed, context: inout ExecutionContext, state: inout WorkingState) throws {
        if let financing = deed.financing, try !state.party(financing.bank).has(.bank) {
            throw Rejection(.roleRequired, "the financing party \(financing.bank) no longer holds the bank role")
        }
        var passport = try state.passport(deed.cadastralNumber)
        guard !passport.isArrested else { throw Rejection(.propertyArrested, "\(deed.cadastralNumber) is under arrest") }
        if let pledge = passport.restrictions.first(where: { $0.kind == .pledge && !deed.acceptedPledges.contains($0.id) }) {
            throw Rejection(.propertyPledged, "\(deed.cadastralNumber) is pledged to \(pledge.holder) (pledge \(pledge.id)), which the deed does not accept")
        }
        try passport.moveShares(from: deed.sellers.map { Ownership(party: $0.party, share: $0.share) },
                                to: deed.buyers.map { Ownership(party: $0.party, share: $0.share) }) { seller in
            Rejection(.sharesExceedOwnership, "\(seller.party) no longer owns the share \(seller.share)")
        }
        guard Share.sumIsWhole(passport.owners.map(\.share)) else { throw Rejection(.invalidShares, "the settlement would not keep the shares whole") }
        // A financing pledge covers the whole property, so only the deed's buyers, who sign it, may own it after.
        if deed.financing != nil, let other = passport.owners.first(where: { owner in !deed.buyers.contains { $0.party == owner.party } }) {
            throw Rejection(.invalidDeed, "a financed deed must leave its buyers the only owners; \(other.party) would still own a share the bank's pledge would cover")
        }
        passport.documents.append(deed.id.hash)
        if let paymentOrder = deed.paymentOrderHash { passport.documents.append(paymentOrder) }
        if let financing = deed.financing {
            // The financing bank's pledge is registered in the same settlement.
            let pledge = Pledge(id: deed.id, cadastralNumber: deed.cadastralNumber, bank: financing.bank, loanAmount: financing.amount,
                                documents: [financing.documentHash], signedBy: deed.buyers.map(\.party), status: .registered,
                                reviewedBy: nil, rejectionReason: nil, createdAt: context.blockTime)
            state.put(pledge, at: RecordKey.pledge(pledge.id))
            passport.restrictions.append(Restriction(id: pledge.id, kind: .pledge, holder: financing.bank, documentHash: financing.documentHash, since: context.blockTime))
            passport.documents.append(financing.documentHash)
            context.emit(LedgerEvent("pledge.registered", parties: deed.buyers.map(\.party) + [financing.bank], properties: [deed.cadastralNumber], amount: financing.amount))
        }
        try state.save(passport, context: &context, settling: deed.id)

        // Take the held payments, then pay each seller its part; rounding remainders go to the first seller.
        var collected = Tiyn.zero
        for hold in deed.holds {
            var account = try state.account(hold.party)
            account.held = try account.held.minus(hold.amount)
            state.put(account, at: RecordKey.account(hold.party))
            collected = try collected.plus(hold.amount)
        }
        let payments = try Self.sellerPayments(deed, collected: collected)
        for (party, amount) in payments where amount > .zero {
            var account = try state.account(party)
            account.balance = try account.balance.plus(amount)
            state.put(account, at: RecordKey.account(party))
        }
        deed.holds = []
        deed.status = .settled
        state.put(deed, at: RecordKey.deed(deed.id))
        try state.removeFromOpen(deed)
        context.emit(LedgerEvent("deed.settled", parties: deed.parties, properties: [deed.cadastralNumber], deed: deed.id, amount: collected))
    }

    /// What each seller receives of `collected`: pro rata to the share it sold, rounded down, the
    /// remainder to the first seller, so that the parts add up exactly.
    static func sellerPayments(_ deed: Deed, collected: Tiyn) throws(Rejection) -> [(PartyID, Tiyn)] {
        var sold = Share.none
        for seller in deed.sellers { sold = try sold.plus(seller.share) }
        var payments: [(PartyID, Tiyn)] = []
        var paid = Tiyn.zero
        for seller in deed.sellers {
            let part = try collected.proRata(part: seller.share, of: sold)
            payments.append((seller.party, part))
            paid = try paid.plus(part)
        }
        payments[0].1 = try payments[0].1.plus(collected.minus(paid))
        return payments
    }

    /// End of block: expire open deeds past their time (releasing holds) and share the fees
    /// equally among the validator operators (the remainder waits for the next block).
    func endBlock(blockTime: Timestamp, state: inout WorkingState) throws {
        // Each step is kept or dropped on its own: a step that cannot be done (which the checks
        // at execution rule out) leaves the state as it was, and the block still executes.
        for id in try state.record([TransactionID].self, RecordKey.openDeeds) ?? [] {
            guard var deed = try state.record(Deed.self, RecordKey.deed(id)), deed.expiresAt < blockTime else { continue }
            do {
                try state.close(&deed, as: .expired)
                state.keepTransaction()
            } catch is Rejection {
                state.dropTransaction()
            }
        }
        let operators = try state.record([PartyID].self, RecordKey.operators) ?? []
        let pool = try state.record(Tiyn.self, RecordKey.feePool) ?? .zero
        if !operators.isEmpty, pool.rawValue >= UInt64(operators.count) {
            let each = Tiyn(pool.rawValue / UInt64(operators.count))
            do {
                for party in operators {
                    var account = try state.account(party)
                    account.balance = try account.balance.plus(each)
                    state.put(account, at: RecordKey.account(party))
                }
                state.put(Tiyn(pool.rawValue % UInt64(operators.count)), at: RecordKey.feePool)
                state.keepTransaction()
            } catch is Rejection {
                state.dropTransaction()
            }
        }
        state.keepTransaction()
    }
}
