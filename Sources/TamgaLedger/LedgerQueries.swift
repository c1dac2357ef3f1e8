public import TamgaCore
import Foundation

/// Whether a property is free to be sold or pledged, and if not, what encumbers it.
public struct EncumbranceStatus: Codable, Hashable, Sendable {
    public var cadastralNumber: CadastralNumber
    public var isFree: Bool
    public var restrictions: [Restriction]
}

/// Reads over one state version. Pass a `MapSnapshot` at a block's version to ask "as of block H".
public struct LedgerQueries<State: LedgerStateReading> {
    public let state: State

    public init(state: State) { self.state = state }

    private func record<T: Decodable>(_ type: T.Type, _ key: [UInt8]) throws -> T? {
        try state.value(forKey: key).map { try RecordCoding.decode(T.self, $0, key: key) }
    }

    public func passport(_ number: CadastralNumber) throws -> Passport? { try record(Passport.self, RecordKey.property(number)) }

    /// The public check: free, or which arrests and pledges encumber the property. Nil if not registered.
    public func encumbrances(_ number: CadastralNumber) throws -> EncumbranceStatus? {
        try passport(number).map { EncumbranceStatus(cadastralNumber: number, isFree: $0.restrictions.isEmpty, restrictions: $0.restrictions) }
    }

    public func party(_ id: PartyID) throws -> PartyRecord? { try record(PartyRecord.self, RecordKey.party(id)) }

    /// The properties a party owns a share of, sorted by cadastral number.
    public func properties(of party: PartyID) throws -> [CadastralNumber] { try record([CadastralNumber].self, RecordKey.holdings(party)) ?? [] }

    /// The nonce of the party's last accepted transaction (0: none yet); the next must be one more.
    public func nonce(of id: PartyID) throws -> UInt64 { try record(UInt64.self, RecordKey.nonce(id)) ?? 0 }
    public func account(_ id: PartyID) throws -> Account { try record(Account.self, RecordKey.account(id)) ?? .empty }
    public func deed(_ id: TransactionID) throws -> Deed? { try record(Deed.self, RecordKey.deed(id)) }
    public func pledge(_ id: TransactionID) throws -> Pledge? { try record(Pledge.self, RecordKey.pledge(id)) }
    public func listing(_ number: CadastralNumber) throws -> Listing? { try record(Listing.self, RecordKey.listing(number)) }
    /// The salted hash of the passport's access code: for the node's own check, never for an answer.
    public func accessCode(_ number: CadastralNumber) throws -> AccessCode? { try record(AccessCode.self, RecordKey.accessCode(number)) }
    public func claims(_ deed: TransactionID) throws -> [Claim] { try record([Claim].self, RecordKey.claims(deed)) ?? [] }
    public func recovery(_ id: TransactionID) throws -> Recovery? { try record(Recovery.self, RecordKey.recovery(id)) }
    public func parameters() throws -> Parameters { try record(Parameters.self, RecordKey.parameters) ?? Parameters() }
    public func supply() throws -> Tiyn { try record(Tiyn.self, RecordKey.supply) ?? .zero }
}
