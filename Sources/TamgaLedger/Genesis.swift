public import TamgaCore

/// The state a chain starts from: the authorities and their roles, opening balances and parameters.
public struct Genesis: Sendable {
    public struct Party: Codable, Sendable, Equatable {
        public var id: PartyID
        public var name: String
        public var roles: [Role]
        public var keys: [PublicKey]
        public var identityCommitment: Hash
        /// Tokens the party starts with, counted in the supply (so that authorities can pay fees).
        public var openingBalance: Tiyn

        public init(id: PartyID, name: String, roles: [Role], keys: [PublicKey], identityCommitment: Hash, openingBalance: Tiyn = .zero) {
            self.id = id
            self.name = name
            self.roles = roles
            self.keys = keys
            self.identityCommitment = identityCommitment
            self.openingBalance = openingBalance
        }
    }

    public var parties: [Party]
    public var parameters: Parameters

    public init(parties: [Party], parameters: Parameters = Parameters()) {
        self.parties = parties
        self.parameters = parameters
    }

    /// Why this genesis cannot start a chain, or nil: a party id or a key given twice, or opening
    /// balances that add up to more than a 64-bit supply (which `stateUpdates` would trap on).
    public var problem: String? {
        var ids = Set<PartyID>(), keys = Set<KeyID>()
        var supply = Tiyn.zero
        for party in parties {
            guard ids.insert(party.id).inserted else { return "party \(party.id) appears twice" }
            for key in party.keys where !keys.insert(key.keyID).inserted { return "key \(key.keyID) is given twice" }
            guard let total = supply.adding(party.openingBalance) else { return "the opening balances add up to more than a 64-bit supply of tiyn" }
            supply = total
        }
        return nil
    }

    /// The genesis state as map updates, in key order.
    public func stateUpdates() -> [StateUpdate] {
        var state = WorkingState(base: EmptyState())
        for party in parties {
            let record = PartyRecord(id: party.id, roles: Array(Set(party.roles)).sorted(), keys: party.keys,
                                     identityCommitment: party.identityCommitment, name: party.name)
            state.put(record, at: RecordKey.party(party.id))
            for key in party.keys { state.put(party.id, at: RecordKey.key(key.keyID)) }
            if party.openingBalance > .zero { state.put(Account(balance: party.openingBalance), at: RecordKey.account(party.id)) }
        }
        state.put(parties.filter { $0.roles.contains(.validatorOperator) }.map(\.id).sorted(), at: RecordKey.operators)
        state.put(parameters, at: RecordKey.parameters)
        state.put(parties.reduce(Tiyn.zero) { $0 + $1.openingBalance }, at: RecordKey.supply)
        state.keepTransaction()
        return state.updates
    }
}

struct EmptyState: LedgerStateReading {
    func value(forKey key: [UInt8]) -> [UInt8]? { nil }
}
