import TamgaCore

extension Ledger {
    /// `property.register`: a registrar registers a property from its title document; every owner
    /// must be enrolled and the shares must sum to exactly one.
    func registerProperty(_ body: RegisterProperty, context: inout ExecutionContext, state: inout WorkingState) throws {
        try state.requireRole(.registrar, of: context.signer, for: "registering a property")
        guard try state.record(Passport.self, RecordKey.property(body.cadastralNumber)) == nil else {
            throw Rejection(.propertyExists, "property \(body.cadastralNumber) is already registered")
        }
        guard !body.kind.isEmpty, body.kind.utf8.count <= 40, !body.address.isEmpty, body.address.utf8.count <= 500, body.area.rawValue > 0 else {
            throw Rejection(.invalidPassport, "a passport needs a kind (1–40 bytes), an address (1–500 bytes) and a positive area")
        }
        let owners = try validOwnership(body.owners, state: state)
        let passport = Passport(cadastralNumber: body.cadastralNumber, kind: body.kind, address: body.address, area: body.area,
                                location: body.location, owners: owners, restrictions: [], documents: [body.titleDocumentHash],
                                registeredAt: context.blockTime)
        try state.save(passport, context: &context)
        context.emit(LedgerEvent("property.registered", parties: owners.map(\.party) + [context.signer], properties: [body.cadastralNumber]))
    }

    /// Owners sorted by party, each enrolled, once, with a positive share, summing to exactly one.
    func validOwnership(_ owners: [Ownership], state: WorkingState) throws -> [Ownership] {
        guard !owners.isEmpty, owners.count <= Limits.deedPartiesMax else {
            throw Rejection(.invalidShares, "a property needs 1 to \(Limits.deedPartiesMax) owners")
        }
        let sorted = owners.sorted { $0.party < $1.party }
        guard zip(sorted, sorted.dropFirst()).allSatisfy({ $0.party != $1.party }) else {
            throw Rejection(.invalidShares, "an owner is listed twice")
        }
        guard sorted.allSatisfy({ !$0.share.isZero }), Share.sumIsWhole(sorted.map(\.share)) else {
            throw Rejection(.invalidShares, "the owners' shares must be positive and sum to exactly 1")
        }
        for owner in sorted { _ = try state.party(owner.party) }
        return sorted
    }
}

extension Passport {
    /// Takes each `from` share from its owner and gives each `to` share to its party, keeping the
    /// owners sorted and dropping those left with nothing.
    ///
    /// - Parameter shortfall: the rejection when an owner does not hold the share taken from it.
    mutating func moveShares(from: [Ownership], to: [Ownership], shortfall: (Ownership) -> Rejection) throws {
        var shares = Dictionary(uniqueKeysWithValues: owners.map { ($0.party, $0.share) })
        do {
            for entry in from {
                guard let owned = shares[entry.party], entry.share <= owned else { throw shortfall(entry) }
                shares[entry.party] = try owned.subtracting(entry.share)
            }
            for entry in to { shares[entry.party] = try (shares[entry.party] ?? .none).adding(entry.share) }
        } catch let error as ShareError {
            throw Rejection(.invalidShares, error.message)
        }
        owners = shares.filter { !$0.value.isZero }.map { Ownership(party: $0.key, share: $0.value) }.sorted { $0.party < $1.party }
    }
}
