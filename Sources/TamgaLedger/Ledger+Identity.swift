import TamgaCore

extension RecordKey {
    /// The sorted ids of the validator operators, who share the fees.
    static let operators: [UInt8] = Array("operators".utf8)
}

extension Ledger {
    /// `identity.enroll`: a registrar enrolls a citizen after checking identity documents; the new
    /// party signs the same envelope with its key, proving that it holds it.
    func enroll(_ body: Enroll, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "enrolling a party")
        guard try state.record(PartyRecord.self, RecordKey.party(body.party)) == nil else {
            throw Rejection(.partyExists, "party \(body.party) is already enrolled")
        }
        let keyID = body.publicKey.keyID
        guard try state.record(PartyID.self, RecordKey.key(keyID)) == nil else {
            throw Rejection(.keyInUse, "key \(keyID) already belongs to a party")
        }
        guard context.provenKeys.contains(keyID) else {
            throw Rejection(.proofOfKeyMissing, "the envelope carries no signature by the new party's key \(keyID)")
        }
        guard !body.name.isEmpty, body.name.utf8.count <= 200 else { throw Rejection(.invalidPassport, "a party's name must be 1 to 200 bytes") }
        let record = PartyRecord(id: body.party, roles: [.citizen], keys: [body.publicKey], identityCommitment: body.identityCommitment, name: body.name)
        state.put(record, at: RecordKey.party(body.party))
        state.put(body.party, at: RecordKey.key(keyID))
        context.emit(LedgerEvent("identity.enrolled", parties: [body.party, context.signer]))
    }
}
