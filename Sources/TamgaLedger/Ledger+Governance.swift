import TamgaCore

extension Ledger {
    /// `property.correction.propose`: a registrar proposes to correct a passport's non-ownership data.
    func proposeCorrection(_ body: ProposeCorrection, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "proposing a correction")
        let passport = try state.passport(body.cadastralNumber)
        guard body.kind != nil || body.address != nil || body.area != nil || body.location != nil else {
            throw Rejection(.emptyCorrection, "a correction changes at least one of kind, address, area and location")
        }
        if let kind = body.kind, kind.isEmpty || kind.utf8.count > 40 { throw Rejection(.invalidPassport, "a kind is 1 to 40 bytes") }
        if let address = body.address, address.isEmpty || address.utf8.count > 500 { throw Rejection(.invalidPassport, "an address is 1 to 500 bytes") }
        if let area = body.area, area.rawValue == 0 { throw Rejection(.invalidPassport, "the area must be positive") }
        let correction = Correction(id: context.id, change: body, proposedBy: context.signer, approvedBy: nil, status: .proposed)
        state.put(correction, at: RecordKey.correction(correction.id))
        context.emit(LedgerEvent("correction.proposed", parties: passport.owners.map(\.party) + [context.signer], properties: [body.cadastralNumber]))
    }

    /// `property.correction.approve`: a second, different registrar applies it; the owners are notified.
    func approveCorrection(_ body: CorrectionReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "approving a correction")
        guard var correction = try state.record(Correction.self, RecordKey.correction(body.correction)) else {
            throw Rejection(.unknownCorrection, "no correction \(body.correction)")
        }
        guard correction.status == .proposed else { throw Rejection(.correctionNotPending, "correction \(correction.id) is \(correction.status.rawValue)") }
        guard correction.proposedBy != context.signer else {
            throw Rejection(.correctionSameRegistrar, "a correction needs a second registrar; \(context.signer) proposed it")
        }
        try state.requireRole(.registrar, of: correction.proposedBy, for: "a correction's proposal")
        let change = correction.change
        var passport = try state.passport(change.cadastralNumber)
        if let kind = change.kind { passport.kind = kind }
        if let address = change.address { passport.address = address }
        if let area = change.area { passport.area = area }
        if let location = change.location { passport.location = location }
        passport.documents.append(change.documentHash)
        try state.save(passport, context: &context)
        correction.status = .applied
        correction.approvedBy = context.signer
        state.put(correction, at: RecordKey.correction(correction.id))
        context.emit(LedgerEvent("correction.applied", parties: passport.owners.map(\.party) + [correction.proposedBy, context.signer], properties: [change.cadastralNumber]))
    }

    /// `property.access_code`: an owner sets the hash of the code that opens the passport.
    func setAccessCode(_ body: SetAccessCode, context: inout ExecutionContext, state: inout WorkingState) throws {
        let passport = try state.passport(body.cadastralNumber)
        guard passport.share(of: context.signer) != nil else { throw Rejection(.notAnOwner, "\(context.signer) does not own \(body.cadastralNumber)") }
        if let code = body.code {
            state.put(code, at: RecordKey.accessCode(body.cadastralNumber))
            context.emit(LedgerEvent("property.access_code_set", parties: passport.owners.map(\.party), properties: [body.cadastralNumber]))
        } else {
            state.remove(RecordKey.accessCode(body.cadastralNumber))
            context.emit(LedgerEvent("property.access_code_cleared", parties: passport.owners.map(\.party), properties: [body.cadastralNumber]))
        }
    }

    /// `governance.propose`: a validator operator proposes a change; its own approval counts.
    func proposeGovernance(_ body: ProposeGovernance, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.validatorOperator, of: context.signer, for: "proposing a governance change")
        try validate(body.change, state: state)
        var proposal = GovernanceProposal(id: context.id, change: body.change, approvals: [context.signer], status: .open)
        context.emit(LedgerEvent("governance.proposed", parties: [context.signer]))
        try applyIfApproved(&proposal, context: &context, state: &state)
    }

    /// `governance.approve`: another operator approves; more than two thirds of the operators apply it.
    func approveGovernance(_ body: GovernanceReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.validatorOperator, of: context.signer, for: "approving a governance change")
        guard var proposal = try state.record(GovernanceProposal.self, RecordKey.proposal(body.proposal)) else {
            throw Rejection(.unknownProposal, "no governance proposal \(body.proposal)")
        }
        guard proposal.status == .open else { throw Rejection(.proposalClosed, "proposal \(proposal.id) was already applied") }
        guard !proposal.approvals.contains(context.signer) else { throw Rejection(.alreadyApproved, "\(context.signer) already approved \(proposal.id)") }
        proposal.approvals.append(context.signer)
        context.emit(LedgerEvent("governance.approved", parties: [context.signer]))
        try applyIfApproved(&proposal, context: &context, state: &state)
    }

    private func validate(_ change: GovernanceChange, state: WorkingState) throws {
        switch change {
        case let .grantRole(party, _), let .revokeRole(party, _):
            _ = try state.party(party)
        case let .setParameters(parameters):
            if let problem = parameters.outOfRange { throw Rejection(.invalidParameters, problem) }
        case let .setValidators(validators):
            do {
                _ = try ValidatorSet(validators)
            } catch {
                throw Rejection(.invalidAmount, error.message)
            }
        }
    }

    private func applyIfApproved(_ proposal: inout GovernanceProposal, context: inout ExecutionContext, state: inout WorkingState) throws {
        let operators = try state.record([PartyID].self, RecordKey.operators) ?? []
        let votes = proposal.approvals.filter(operators.contains).count
        if votes * 3 > operators.count * 2 {
            try apply(proposal.change, state: &state)
            proposal.status = .applied
            context.emit(LedgerEvent("governance.applied", parties: proposal.approvals + affectedParties(proposal.change)))
        }
        state.put(proposal, at: RecordKey.proposal(proposal.id))
    }

    private func affectedParties(_ change: GovernanceChange) -> [PartyID] {
        switch change {
        case let .grantRole(party, _), let .revokeRole(party, _): [party]
        case .setParameters, .setValidators: []
        }
    }

    private func apply(_ change: GovernanceChange, state: inout WorkingState) throws {
        switch change {
        case let .grantRole(party, role), let .revokeRole(party, role):
            var record = try state.party(party)
            var roles = Set(record.roles)
            if case .grantRole = change { roles.insert(role) } else { roles.remove(role) }
            record.roles = roles.sorted()
            state.put(record, at: RecordKey.party(party))
            if role == .validatorOperator {
                var operators = Set(try state.record([PartyID].self, RecordKey.operators) ?? [])
                if case .grantRole = change { operators.insert(party) } else { operators.remove(party) }
                guard operators.count <= Limits.validatorOperatorsMax else {
                    throw Rejection(.limitExceeded, "at most \(Limits.validatorOperatorsMax) parties hold the validator operator role")
                }
                state.put(operators.sorted(), at: RecordKey.operators)
            }
        case let .setParameters(parameters):
            state.put(parameters, at: RecordKey.parameters)
        case let .setValidators(validators):
            state.put(validators, at: RecordKey.validators)
        }
    }
}
