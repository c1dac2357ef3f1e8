import TamgaCore

extension Ledger {
    /// `pledge.propose`: a bank asks to register a pledge, naming the loan and its documents.
    func proposePledge(_ body: ProposePledge, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.bank, of: context.signer, for: "proposing a pledge")
        let passport = try state.passport(body.cadastralNumber)
        guard !passport.isArrested else { throw Rejection(.propertyArrested, "\(body.cadastralNumber) is under arrest and cannot be pledged") }
        guard body.loanAmount > .zero, !body.documents.isEmpty, body.documents.count <= 16 else {
            throw Rejection(.invalidAmount, "a pledge needs a positive loan amount and 1 to 16 document hashes")
        }
        let pledge = Pledge(id: context.id, cadastralNumber: body.cadastralNumber, bank: context.signer, loanAmount: body.loanAmount,
                            documents: body.documents, signedBy: [], status: .proposed, reviewedBy: nil, rejectionReason: nil, createdAt: context.blockTime)
        state.put(pledge, at: RecordKey.pledge(pledge.id))
        context.emit(LedgerEvent("pledge.proposed", parties: passport.owners.map(\.party) + [context.signer], properties: [body.cadastralNumber], amount: body.loanAmount))
    }

    /// `pledge.sign`: each owner agrees to the pledge.
    func signPledge(_ body: PledgeReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        var pledge = try pledgeRecord(body.pledge, state: state)
        // `signed` means every owner had signed when the last signature came; a new owner since may still sign.
        guard pledge.awaitsReview else { throw Rejection(.pledgeNotPending, "pledge \(pledge.id) is \(pledge.status.rawValue)") }
        let passport = try state.passport(pledge.cadastralNumber)
        guard passport.share(of: context.signer) != nil else { throw Rejection(.notAnOwner, "\(context.signer) does not own \(pledge.cadastralNumber)") }
        guard !pledge.signedBy.contains(context.signer) else { throw Rejection(.alreadySigned, "\(context.signer) already signed pledge \(pledge.id)") }
        guard pledge.signedBy.count < Limits.deedPartiesMax * 2 else { throw Rejection(.limitExceeded, "pledge \(pledge.id) has all the signatures it can hold") }
        pledge.signedBy.append(context.signer)
        if passport.owners.allSatisfy({ pledge.signedBy.contains($0.party) }) { pledge.status = .signed }
        state.put(pledge, at: RecordKey.pledge(pledge.id))
        context.emit(LedgerEvent("pledge.signed", parties: passport.owners.map(\.party) + [pledge.bank], properties: [pledge.cadastralNumber]))
    }

    /// `pledge.register`: a registrar, having reviewed the documents, registers a pledge every owner signed.
    func registerPledge(_ body: PledgeReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "registering a pledge")
        var pledge = try pledgeRecord(body.pledge, state: state)
        guard pledge.status == .signed || pledge.status == .proposed else {
            throw Rejection(.pledgeNotPending, "pledge \(pledge.id) is \(pledge.status.rawValue)")
        }
        var passport = try state.passport(pledge.cadastralNumber)
        // Signatures count only from today's owners: one given by a former owner pledges nothing.
        guard passport.owners.allSatisfy({ pledge.signedBy.contains($0.party) }) else {
            throw Rejection(.pledgeUnsigned, "not every current owner of \(pledge.cadastralNumber) has signed pledge \(pledge.id)")
        }
        guard !passport.isArrested else { throw Rejection(.propertyArrested, "\(pledge.cadastralNumber) is under arrest and cannot be pledged") }
        passport.restrictions.append(Restriction(id: pledge.id, kind: .pledge, holder: pledge.bank, documentHash: pledge.documents[0], since: context.blockTime))
        passport.documents.append(contentsOf: pledge.documents)
        try state.save(passport, context: &context)
        pledge.status = .registered
        pledge.reviewedBy = context.signer
        state.put(pledge, at: RecordKey.pledge(pledge.id))
        context.emit(LedgerEvent("pledge.registered", parties: passport.owners.map(\.party) + [pledge.bank, context.signer], properties: [pledge.cadastralNumber], amount: pledge.loanAmount))
    }

    /// `pledge.reject`: a registrar refuses a pledge, saying why; the bank and the owners are told.
    func rejectPledge(_ body: RejectPledge, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "rejecting a pledge")
        var pledge = try pledgeRecord(body.pledge, state: state)
        guard pledge.awaitsReview else {
            throw Rejection(.pledgeNotPending, "pledge \(pledge.id) is \(pledge.status.rawValue)")
        }
        guard !body.reason.isEmpty, body.reason.utf8.count <= 1_000 else { throw Rejection(.invalidPassport, "a rejection needs a reason of 1 to 1,000 bytes") }
        pledge.status = .rejected
        pledge.reviewedBy = context.signer
        pledge.rejectionReason = body.reason
        state.put(pledge, at: RecordKey.pledge(pledge.id))
        let owners = try state.passport(pledge.cadastralNumber).owners.map(\.party)
        context.emit(LedgerEvent("pledge.rejected", parties: owners + [pledge.bank, context.signer], properties: [pledge.cadastralNumber]))
    }

    /// `pledge.release`: only the bank holding the pledge releases it.
    func releasePledge(_ body: PledgeReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        var pledge = try pledgeRecord(body.pledge, state: state)
        guard pledge.status == .registered else { throw Rejection(.pledgeNotPending, "pledge \(pledge.id) is \(pledge.status.rawValue), not registered") }
        guard pledge.bank == context.signer else { throw Rejection(.notThePledgeHolder, "only \(pledge.bank), which holds the pledge, may release it") }
        var passport = try state.passport(pledge.cadastralNumber)
        passport.restrictions.removeAll { $0.id == pledge.id }
        try state.save(passport, context: &context)
        pledge.status = .released
        state.put(pledge, at: RecordKey.pledge(pledge.id))
        context.emit(LedgerEvent("pledge.released", parties: passport.owners.map(\.party) + [pledge.bank], properties: [pledge.cadastralNumber]))
    }

    func pledgeRecord(_ id: TransactionID, state: WorkingState) throws -> Pledge {
        guard let pledge = try state.record(Pledge.self, RecordKey.pledge(id)) else { throw Rejection(.unknownPledge, "no pledge \(id)") }
        return pledge
    }
}
