public import TamgaCore

/// What a party may do. A party may hold several roles.
public enum Role: String, Codable, Hashable, Comparable, Sendable, CaseIterable {
    case citizen
    case registrar
    case notary
    case bank
    case court
    case enforcement
    case tokenIssuer = "token_issuer"
    case validatorOperator = "validator_operator"

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An enrolled party (LADM: LA_Party). Personal identity numbers are never stored: only a salted
/// commitment to them, which the enrolling registrar computed after checking the documents.
public struct PartyRecord: Codable, Hashable, Sendable {
    public var id: PartyID
    public var roles: [Role]
    /// Current keys; a signature by any of them is the party's.
    public var keys: [PublicKey]
    /// `SHA-256(salt ‖ IIN or BIN)`, computed off chain.
    public var identityCommitment: Hash
    /// The party's display name, visible to those allowed to see the party.
    public var name: String

    public func has(_ role: Role) -> Bool { roles.contains(role) }
}

/// Ownership of a share of a property (LADM: LA_RRR right with its share).
public struct Ownership: Codable, Hashable, Sendable, StrictlyDecodable {
    public var party: PartyID
    public var share: Share
    public enum CodingKeys: String, CodingKey, CaseIterable { case party, share }

    public init(party: PartyID, share: Share) {
        self.party = party
        self.share = share
    }
}

/// A restriction on a property (LADM: LA_Restriction): an arrest or a pledge.
public struct Restriction: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Hashable, Sendable { case arrest, pledge }

    /// The id of the transaction that imposed it.
    public var id: TransactionID
    public var kind: Kind
    /// The authority (arrest) or bank (pledge) that holds it.
    public var holder: PartyID
    /// The hash of the court order or loan agreement (LADM: LA_SourceDocument).
    public var documentHash: Hash
    public var since: Timestamp
}

/// A property's digital passport (LADM: LA_SpatialUnit with its rights and restrictions).
public struct Passport: Codable, Hashable, Sendable {
    public var cadastralNumber: CadastralNumber
    /// "land", "apartment", "house", "commercial", …
    public var kind: String
    public var address: String
    public var area: AreaHundredths
    public var location: Coordinate?
    /// Sorted by party; shares sum to exactly 1.
    public var owners: [Ownership]
    public var restrictions: [Restriction]
    /// Source documents: the title document first, then every later deed or order.
    public var documents: [Hash]
    public var registeredAt: Timestamp

    public var isArrested: Bool { restrictions.contains { $0.kind == .arrest } }

    public func share(of party: PartyID) -> Share? { owners.first { $0.party == party }?.share }
}

/// The access code that opens a property's passport to whoever the owners give it, kept apart
/// from the passport so that no passport, extract or proof carries it. Only a salted hash is
/// stored: `SHA-256(salt ‖ code)`, the code in its normal form (`AccessCode.normalized`).
public struct AccessCode: Codable, Hashable, Sendable, StrictlyDecodable {
    public var salt: Hash
    public var codeHash: Hash
    public enum CodingKeys: String, CodingKey, CaseIterable { case salt, codeHash }

    public init(salt: Hash, codeHash: Hash) {
        self.salt = salt
        self.codeHash = codeHash
    }

    /// The alphabet codes are written in: RFC 4648 base32.
    public static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    /// The code with grouping dashes and spaces removed and letters upper-cased.
    public static func normalized(_ code: String) -> String {
        String(code.uppercased().filter { $0 != "-" && $0 != " " })
    }

    public static func hash(_ code: String, salt: Hash) -> Hash {
        .sha256(salt.bytes + Array(normalized(code).utf8))
    }

    /// Whether `code` is this access code.
    public func opens(_ code: String) -> Bool { Self.hash(code, salt: salt) == codeHash }
}

/// A party's token account. `held` is the part reserved for open deeds.
public struct Account: Codable, Hashable, Sendable {
    public var balance: Tiyn
    public var held: Tiyn

    public init(balance: Tiyn = .zero, held: Tiyn = .zero) {
        self.balance = balance
        self.held = held
    }

    public static let empty = Account()
}

/// A property offered for sale by all its owners.
public struct Listing: Codable, Hashable, Sendable {
    public var cadastralNumber: CadastralNumber
    public var price: Tiyn
    public var listedAt: Timestamp
    /// The owners, with their shares, who listed it: the consent it carries is theirs alone.
    public var owners: [Ownership]
}

/// A deed of sale: who sells which shares, who buys which shares for how much, and who has signed.
public struct Deed: Codable, Hashable, Sendable {
    /// `voided`: closed because the property's ownership changed while it was open.
    public enum Status: String, Codable, Hashable, Sendable { case open, settled, cancelled, expired, invalidated, voided }

    public struct Seller: Codable, Hashable, Sendable, StrictlyDecodable {
        public enum CodingKeys: String, CodingKey, CaseIterable { case party, share }
        public var party: PartyID
        /// The share of the whole property this seller transfers.
        public var share: Share

        public init(party: PartyID, share: Share) {
            self.party = party
            self.share = share
        }
    }

    public struct Buyer: Codable, Hashable, Sendable, StrictlyDecodable {
        public enum CodingKeys: String, CodingKey, CaseIterable { case party, share, pays }
        public var party: PartyID
        /// The share of the whole property this buyer receives.
        public var share: Share
        /// What this buyer pays from its own account.
        public var pays: Tiyn

        public init(party: PartyID, share: Share, pays: Tiyn) {
            self.party = party
            self.share = share
            self.pays = pays
        }
    }

    /// A bank that pays part of the price and takes a pledge on the property at settlement.
    public struct Financing: Codable, Hashable, Sendable, StrictlyDecodable {
        public enum CodingKeys: String, CodingKey, CaseIterable { case bank, amount, documentHash }
        public var bank: PartyID
        public var amount: Tiyn
        /// The hash of the loan agreement.
        public var documentHash: Hash

        public init(bank: PartyID, amount: Tiyn, documentHash: Hash) {
            self.bank = bank
            self.amount = amount
            self.documentHash = documentHash
        }
    }

    public var id: TransactionID
    public var cadastralNumber: CadastralNumber
    public var sellers: [Seller]
    public var buyers: [Buyer]
    public var financing: Financing?
    /// Pledges already on the property that the buyers accept to take over.
    public var acceptedPledges: [TransactionID]
    public var price: Tiyn
    /// Parties whose signatures are in, in the order they signed.
    public var signedBy: [PartyID]
    /// Tokens held for this deed, by party.
    public var holds: [Ownership.Hold]
    public var notaryRequired: Bool
    public var attestedBy: PartyID?
    public var status: Status
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// The buyers' bank when the price is paid outside the token (absent: paid in tokens held by
    /// the ledger). Its confirmation counts as its signature and comes last.
    public var paymentBank: PartyID?
    /// The hash of the payment order the paying bank confirmed.
    public var paymentOrderHash: Hash?

    /// Everyone who must sign (a paying bank by confirming the payment).
    public var parties: [PartyID] {
        Array(Set(sellers.map(\.party) + buyers.map(\.party) + (financing.map { [$0.bank] } ?? []) + (paymentBank.map { [$0] } ?? []))).sorted()
    }
    public var isFullySigned: Bool { parties.allSatisfy(signedBy.contains) }
    /// True when the price is paid outside the token and confirmed by `paymentBank`.
    public var isPaidOutsideToken: Bool { paymentBank != nil }

    /// What the deed's parties sign: a hash of the terms, so that a signature cannot be moved to other terms.
    public var termsHash: Hash {
        var text = "deed|\(id)|\(cadastralNumber)|\(price.rawValue)"
        for seller in sellers { text += "|s:\(seller.party):\(seller.share)" }
        for buyer in buyers { text += "|b:\(buyer.party):\(buyer.share):\(buyer.pays.rawValue)" }
        if let financing { text += "|f:\(financing.bank):\(financing.amount.rawValue):\(financing.documentHash)" }
        for pledge in acceptedPledges { text += "|p:\(pledge)" }
        if let paymentBank { text += "|o:\(paymentBank)" }
        return .sha256(Array(text.utf8))
    }
}

extension Ownership {
    /// Tokens a party has reserved for a deed.
    public struct Hold: Codable, Hashable, Sendable {
        public var party: PartyID
        public var amount: Tiyn
    }
}

/// The keys under which records live in the authenticated map.
public enum RecordKey {
    public static func party(_ id: PartyID) -> [UInt8] { Array("party/\(id)".utf8) }
    public static func key(_ id: KeyID) -> [UInt8] { Array("key/\(id)".utf8) }
    public static func account(_ id: PartyID) -> [UInt8] { Array("account/\(id)".utf8) }
    /// The nonce of the party's last accepted transaction (absent: none yet); the next must be one more.
    /// Kept apart from the party record, which changes rarely, because it changes with every transaction.
    public static func nonce(_ id: PartyID) -> [UInt8] { Array("nonce/\(id)".utf8) }
    public static func property(_ number: CadastralNumber) -> [UInt8] { Array("property/\(number)".utf8) }
    public static func listing(_ number: CadastralNumber) -> [UInt8] { Array("listing/\(number)".utf8) }
    public static func accessCode(_ number: CadastralNumber) -> [UInt8] { Array("access/\(number)".utf8) }
    public static func deed(_ id: TransactionID) -> [UInt8] { Array("deed/\(id)".utf8) }
    public static func transaction(_ id: TransactionID) -> [UInt8] { Array("tx/\(id)".utf8) }
    /// The properties a party owns a share of, sorted: the index behind "a party's properties".
    public static func holdings(_ party: PartyID) -> [UInt8] { Array("holdings/\(party)".utf8) }
    public static func pledge(_ id: TransactionID) -> [UInt8] { Array("pledge/\(id)".utf8) }
    public static func recovery(_ id: TransactionID) -> [UInt8] { Array("recovery/\(id)".utf8) }
    public static func correction(_ id: TransactionID) -> [UInt8] { Array("correction/\(id)".utf8) }
    public static func proposal(_ id: TransactionID) -> [UInt8] { Array("governance/\(id)".utf8) }
    public static func claims(_ deed: TransactionID) -> [UInt8] { Array("claims/\(deed)".utf8) }
    public static let validators: [UInt8] = Array("validators".utf8)
    public static let supply: [UInt8] = Array("token/supply".utf8)
    public static let feePool: [UInt8] = Array("token/fee-pool".utf8)
    public static let parameters: [UInt8] = Array("parameters".utf8)
}

/// Network parameters set at genesis and changed by governance.
public struct Parameters: Codable, Hashable, Sendable {
    /// The fee every transaction must offer at least.
    public var minimumFee: Tiyn
    /// Whether a deed needs a notary's attestation before it settles.
    public var notaryAttestationRequired: Bool
    /// How long a deed stays open before it expires and releases its holds.
    public var deedLifetimeMillis: UInt64

    /// How long a key recovery waits after its second approval, during which any current key can cancel it.
    public var recoveryTimeLockMillis: UInt64

    /// The ranges governance may set, so that no parameter can make a transaction impossible or
    /// a time overflow: fee 0 to 1,000,000 tenge; deed lifetime 1 hour to 1 year; recovery time
    /// lock 1 hour to 1 year.
    public static let minimumFeeMax = Tiyn(100_000_000)
    public static let lifetimeRange: ClosedRange<UInt64> = 3_600_000...366 * 24 * 3_600_000

    /// Why these parameters may not be set, or nil if they may.
    public var outOfRange: String? {
        if minimumFee > Self.minimumFeeMax { return "the minimum fee may be at most \(Self.minimumFeeMax)" }
        if !Self.lifetimeRange.contains(deedLifetimeMillis) { return "a deed lifetime is 1 hour to 366 days in milliseconds" }
        if !Self.lifetimeRange.contains(recoveryTimeLockMillis) { return "a recovery time lock is 1 hour to 366 days in milliseconds" }
        return nil
    }

    public init(minimumFee: Tiyn = Tiyn(100), notaryAttestationRequired: Bool = false, deedLifetimeMillis: UInt64 = 7 * 24 * 3_600_000,
                recoveryTimeLockMillis: UInt64 = 72 * 3_600_000) {
        self.minimumFee = minimumFee
        self.notaryAttestationRequired = notaryAttestationRequired
        self.deedLifetimeMillis = deedLifetimeMillis
        self.recoveryTimeLockMillis = recoveryTimeLockMillis
    }
}

/// A pledge (mortgage) of a property to a bank.
public struct Pledge: Codable, Hashable, Sendable {
    public enum Status: String, Codable, Hashable, Sendable { case proposed, signed, registered, rejected, released }

    public var id: TransactionID
    public var cadastralNumber: CadastralNumber
    public var bank: PartyID
    public var loanAmount: Tiyn
    public var documents: [Hash]
    /// Owners who have signed, in order.
    public var signedBy: [PartyID]
    public var status: Status
    /// The registrar who registered or rejected it.
    public var reviewedBy: PartyID?
    public var rejectionReason: String?
    public var createdAt: Timestamp
}

/// What a seller still owes after a court invalidated a sale and its balance fell short.
public struct Claim: Codable, Hashable, Sendable {
    public var debtor: PartyID
    public var creditor: PartyID
    public var amount: Tiyn
}

/// A key recovery in progress.
public struct Recovery: Codable, Hashable, Sendable {
    public enum Status: String, Codable, Hashable, Sendable { case requested, approved, cancelled, completed }

    public var id: TransactionID
    public var party: PartyID
    public var newKey: PublicKey
    public var verificationHash: Hash
    public var requestedBy: PartyID
    public var approvedBy: PartyID?
    /// Set by the approval: the earliest block time at which it may complete.
    public var unlocksAt: Timestamp?
    public var status: Status
}

/// A correction of a passport's non-ownership data awaiting a second registrar.
public struct Correction: Codable, Hashable, Sendable {
    public enum Status: String, Codable, Hashable, Sendable { case proposed, applied }

    public var id: TransactionID
    public var change: ProposeCorrection
    public var proposedBy: PartyID
    public var approvedBy: PartyID?
    public var status: Status
}

/// A governance proposal and the operators who approved it.
public struct GovernanceProposal: Codable, Hashable, Sendable {
    public enum Status: String, Codable, Hashable, Sendable { case open, applied }

    public var id: TransactionID
    public var change: GovernanceChange
    public var approvals: [PartyID]
    public var status: Status
}
