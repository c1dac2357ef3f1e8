import TamgaCore

extension Ledger {
    /// `arrest.impose`: a court, or an enforcement officer on a court order, arrests a property.
    func imposeArrest(_ body: ImposeArrest, context: inout ExecutionContext, state: inout WorkingState) throws {
        let signer = try state.party(context.signer)
        guard signer.has(.court) || signer.has(.enforcement) else {
            throw Rejection(.roleRequired, "imposing an arrest needs the court or enforcement role, which \(context.signer) does not have")
        }
        var passport = try state.passport(body.cadastralNumber)
        passport.restrictions.append(Restriction(id: context.id, kind: .arrest, holder: context.signer, documentHash: body.orderHash, since: context.blockTime))
        passport.documents.append(body.orderHash)
        try state.save(passport, context: &context)
        context.emit(LedgerEvent("arrest.imposed", parties: passport.owners.map(\.party) + [context.signer], properties: [body.cadastralNumber]))
    }

    /// `arrest.lift`: only the authority that imposed the arrest, or a court, lifts it.
    func liftArrest(_ body: LiftArrest, context: inout ExecutionContext, state: inout WorkingState) throws {
        var passport = try state.passport(body.cadastralNumber)
        guard let index = passport.restrictions.firstIndex(where: { $0.id == body.arrest && $0.kind == .arrest }) else {
            throw Rejection(.unknownArrest, "\(body.cadastralNumber) has no arrest \(body.arrest)")
        }
        let arrest = passport.restrictions[index]
        let isCourt = try state.party(context.signer).has(.court)
        guard arrest.holder == context.signer || isCourt else {
            throw Rejection(.notTheImposer, "only \(arrest.holder), who imposed the arrest, or a court may lift it")
        }
        passport.restrictions.remove(at: index)
        passport.documents.append(body.orderHash)
        try state.save(passport, context: &context)
        context.emit(LedgerEvent("arrest.lifted", parties: passport.owners.map(\.party) + [context.signer, arrest.holder], properties: [body.cadastralNumber]))
    }
}
