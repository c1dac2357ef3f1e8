import TamgaCore

extension Ledger {
    /// Keys a party may hold at once.
    static var keysPerPartyMax: Int { 8 }

    /// `key.add`: a party adds a key, signing with a current key and with the new one.
    func addKey(_ body: AddKey, context: inout ExecutionContext, state: inout WorkingState) throws {
        var record = try state.party(context.signer)
        let keyID = body.publicKey.keyID
        guard try state.record(PartyID.self, RecordKey.key(keyID)) == nil else { throw Rejection(.keyInUse, "key \(keyID) already belongs to a party") }
        guard context.provenKeys.contains(keyID) else { throw Rejection(.proofOfKeyMissing, "the envelope carries no signature by the new key \(keyID)") }
        guard record.keys.count < Self.keysPerPartyMax else { throw Rejection(.keyInUse, "a party holds at most \(Self.keysPerPartyMax) keys") }
        record.keys.append(body.publicKey)
        state.put(record, at: RecordKey.party(record.id))
        state.put(record.id, at: RecordKey.key(keyID))
        context.emit(LedgerEvent("identity.key_added", parties: [record.id]))
    }

    /// `key.revoke`: a party removes one of its keys (never the last).
    func revokeKey(_ body: RevokeKey, context: inout ExecutionContext, state: inout WorkingState) throws {
        var record = try state.party(context.signer)
        guard record.keys.contains(where: { $0.keyID == body.keyId }) else { throw Rejection(.unknownKey, "key \(body.keyId) is not a key of \(record.id)") }
        guard record.keys.count > 1 else { throw Rejection(.lastKey, "the last key cannot be revoked; use key recovery to replace it") }
        record.keys.removeAll { $0.keyID == body.keyId }
        state.put(record, at: RecordKey.party(record.id))
        state.remove(RecordKey.key(body.keyId))
        context.emit(LedgerEvent("identity.key_revoked", parties: [record.id]))
    }

    /// `key.recovery.request`: registrar A, having re-verified the party's identity, proposes a
    /// new key (the envelope carries the new key's signature).
    func requestRecovery(_ body: RequestRecovery, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "requesting a key recovery")
        _ = try state.party(body.party)
        let keyID = body.newKey.keyID
        guard try state.record(PartyID.self, RecordKey.key(keyID)) == nil else { throw Rejection(.keyInUse, "key \(keyID) already belongs to a party") }
        guard context.provenKeys.contains(keyID) else { throw Rejection(.proofOfKeyMissing, "the envelope carries no signature by the new key \(keyID)") }
        let recovery = Recovery(id: context.id, party: body.party, newKey: body.newKey, verificationHash: body.verificationHash,
                                requestedBy: context.signer, approvedBy: nil, unlocksAt: nil, status: .requested)
        state.put(recovery, at: RecordKey.recovery(recovery.id))
        context.emit(LedgerEvent("recovery.requested", parties: [body.party, context.signer]))
    }

    /// `key.recovery.approve`: a second, different registrar approves; the time lock starts.
    func approveRecovery(_ body: RecoveryReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "approving a key recovery")
        var recovery = try recoveryRecord(body.recovery, state: state)
        guard recovery.status == .requested else { throw Rejection(.recoveryNotPending, "recovery \(recovery.id) is \(recovery.status.rawValue)") }
        guard recovery.requestedBy != context.signer else {
            throw Rejection(.sameRegistrar, "the registrar who requested a recovery cannot also approve it")
        }
        try state.requireRole(.registrar, of: recovery.requestedBy, for: "a key recovery's request")
        let parameters = try state.record(Parameters.self, RecordKey.parameters) ?? Parameters()
        recovery.approvedBy = context.signer
        recovery.unlocksAt = try context.blockTime.adding(millis: parameters.recoveryTimeLockMillis)
        recovery.status = .approved
        state.put(recovery, at: RecordKey.recovery(recovery.id))
        context.emit(LedgerEvent("recovery.approved", parties: [recovery.party, recovery.requestedBy, context.signer]))
    }

    /// `key.recovery.cancel`: the party, with any current key, stops a recovery it did not want.
    func cancelRecovery(_ body: RecoveryReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        var recovery = try recoveryRecord(body.recovery, state: state)
        guard recovery.party == context.signer else { throw Rejection(.notADeedParty, "only \(recovery.party) may cancel its key recovery") }
        guard recovery.status == .requested || recovery.status == .approved else {
            throw Rejection(.recoveryNotPending, "recovery \(recovery.id) is \(recovery.status.rawValue)")
        }
        recovery.status = .cancelled
        state.put(recovery, at: RecordKey.recovery(recovery.id))
        context.emit(LedgerEvent("recovery.cancelled", parties: [recovery.party, recovery.requestedBy] + (recovery.approvedBy.map { [$0] } ?? [])))
    }

    /// `key.recovery.complete`: after the time lock, either registrar replaces all the party's keys with the new one.
    func completeRecovery(_ body: RecoveryReference, context: inout ExecutionContext, state: inout WorkingState) throws {
        var recovery = try recoveryRecord(body.recovery, state: state)
        guard recovery.status == .approved, let unlocksAt = recovery.unlocksAt else {
            throw Rejection(.recoveryNotPending, "recovery \(recovery.id) is \(recovery.status.rawValue), not approved")
        }
        guard context.signer == recovery.requestedBy || context.signer == recovery.approvedBy else {
            throw Rejection(.roleRequired, "only the registrars of the recovery may complete it")
        }
        try state.requireRole(.registrar, of: context.signer, for: "completing a key recovery")
        guard context.blockTime >= unlocksAt else { throw Rejection(.timeLocked, "recovery \(recovery.id) is time-locked until \(unlocksAt)") }
        guard try state.record(PartyID.self, RecordKey.key(recovery.newKey.keyID)) == nil else {
            throw Rejection(.keyInUse, "key \(recovery.newKey.keyID) has meanwhile been given to a party")
        }
        var record = try state.party(recovery.party)
        for key in record.keys { state.remove(RecordKey.key(key.keyID)) }
        record.keys = [recovery.newKey]
        state.put(record, at: RecordKey.party(record.id))
        state.put(record.id, at: RecordKey.key(recovery.newKey.keyID))
        recovery.status = .completed
        state.put(recovery, at: RecordKey.recovery(recovery.id))
        // The lost keys may be in a stranger's hands: what they could have offered or signed for
        // the party's properties is taken back (listings, access codes, open deeds it signed).
        for number in try state.record([CadastralNumber].self, RecordKey.holdings(record.id)) ?? [] {
            try state.withdrawOffers(on: number, owners: [record.id], context: &context)
            for id in try state.record([TransactionID].self, RecordKey.propertyDeeds(number)) ?? [] {
                guard var deed = try state.record(Deed.self, RecordKey.deed(id)), deed.status == .open, deed.signedBy.contains(record.id) else { continue }
                try state.close(&deed, as: .voided)
                context.emit(LedgerEvent("deed.voided", parties: deed.parties, properties: [number], deed: id))
            }
        }
        context.emit(LedgerEvent("recovery.completed", parties: [recovery.party, recovery.requestedBy] + (recovery.approvedBy.map { [$0] } ?? [])))
    }

    private func recoveryRecord(_ id: TransactionID, state: WorkingState) throws -> Recovery {
        guard let recovery = try state.record(Recovery.self, RecordKey.recovery(id)) else { throw Rejection(.unknownRecovery, "no recovery \(id)") }
        return recovery
    }
}
