public import TamgaCore
import Foundation

/// A transaction's payload: the JSON object that the signer signed.
///
/// ```json
/// {"chainId": "tamga-devnet", "signer": "registrar-1", "nonce": 7, "fee": 100,
///  "expiresAt": 1764000600000, "type": "token.transfer", "body": {"to": "citizen-2", "amount": 5000}}
/// ```
/// Every field is required unless documented as optional, and unknown fields are an error at every
/// level of the payload.
public struct TransactionPayload: Hashable, Sendable {
    public var chainID: ChainID
    /// The party whose nonce and fee this is, and whose authority the action uses.
    public var signer: PartyID
    /// One more than the signer's last accepted nonce.
    public var nonce: UInt64
    /// Offered fee in tiyn; at least the network's minimum.
    public var fee: Tiyn
    /// Block time after which the transaction is refused.
    public var expiresAt: Timestamp
    public var action: Action

    public init(chainID: ChainID, signer: PartyID, nonce: UInt64, fee: Tiyn, expiresAt: Timestamp, action: Action) {
        self.chainID = chainID
        self.signer = signer
        self.nonce = nonce
        self.fee = fee
        self.expiresAt = expiresAt
        self.action = action
    }

    /// The bytes to sign: canonical JSON (sorted keys, no spaces).
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { preconditionFailure("a payload always encodes") }
        return Array(data)
    }

    /// Decodes payload bytes strictly.
    public static func decode(_ bytes: [UInt8]) throws(Rejection) -> TransactionPayload {
        try decode(bytes, scanningKeys: true)
    }

    /// - Parameter scanningKeys: false looks for unknown fields through the decoder only (the
    ///   tests compare the two ways).
    static func decode(_ bytes: [UInt8], scanningKeys: Bool) throws(Rejection) -> TransactionPayload {
        guard bytes.first == UInt8(ascii: "{") else { throw Rejection(.malformedPayload, "the payload must be a JSON object") }
        if let name = RepeatedNames.first(in: bytes) {
            throw Rejection(.duplicateField, "the field \"\(name.prefix(40))\" appears twice in one object")
        }
        do {
            let decoder = JSONDecoder()
            if scanningKeys, let keys = PayloadKeys(bytes) { decoder.userInfo[PayloadKeys.userInfoKey] = keys }
            return try decoder.decode(TransactionPayload.self, from: Data(bytes))
        } catch let error as Rejection {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw Rejection(.malformedPayload, Self.describe(context))
        } catch let DecodingError.keyNotFound(key, context) {
            throw Rejection(.malformedPayload, "missing field \(Self.path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw Rejection(.malformedPayload, "wrong type at \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw Rejection(.malformedPayload, "null at \(Self.path(context.codingPath))")
        } catch {
            throw Rejection(.malformedPayload, "the payload is not valid JSON")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the top level" : keys.map(\.stringValue).joined(separator: ".")
    }

    private static func describe(_ context: DecodingError.Context) -> String {
        let underlying = (context.underlyingError as? any CodedError)?.message ?? context.debugDescription
        return "\(path(context.codingPath)): \(underlying)"
    }
}

/// What a transaction does. The `type` names in JSON are given with each case.
public enum Action: Hashable, Sendable {
    /// `identity.enroll`, by a registrar; the envelope also carries the new party's signature.
    case enroll(Enroll)
    /// `token.mint`, by the token issuer.
    case mint(Mint)
    /// `token.burn`, by the token issuer, from its own account.
    case burn(Burn)
    /// `token.transfer`, by the holder.
    case transfer(Transfer)
    /// `property.register`, by a registrar.
    case registerProperty(RegisterProperty)
    /// `sale.list`, by an owner; the envelope carries every co-owner's signature.
    case list(ListProperty)
    /// `sale.withdraw`, by any one owner: the property is no longer for sale.
    case withdrawListing(WithdrawListing)
    /// `sale.buy`: a buyer takes a listing at its price; creates a deed and holds the price.
    case buy(Buy)
    /// `deed.propose`: a deed with several sellers and buyers, proposed by one of its parties.
    case proposeDeed(ProposeDeed)
    /// `deed.sign`: a party signs the deed's terms; a buyer's signature holds its payment.
    case signDeed(SignDeed)
    /// `deed.attest`: a notary attests that the parties acted of their own free will.
    case attestDeed(DeedReference)
    /// `deed.cancel`: a party withdraws before settlement; every hold is released.
    case cancelDeed(DeedReference)
    /// `deed.confirm_payment`: the buyer's bank named by a deed paid outside the token confirms
    /// that the price was paid; the deed settles.
    case confirmPayment(ConfirmPayment)
    /// `pledge.propose`, by a bank.
    case proposePledge(ProposePledge)
    /// `pledge.sign`, by each owner.
    case signPledge(PledgeReference)
    /// `pledge.register`, by a registrar after reviewing the documents.
    case registerPledge(PledgeReference)
    /// `pledge.reject`, by a registrar, with a reason.
    case rejectPledge(RejectPledge)
    /// `pledge.release`, by the bank that holds it.
    case releasePledge(PledgeReference)
    /// `court.invalidate`: a court reverses a settled deed by a compensating transaction.
    case invalidateDeed(InvalidateDeed)
    /// `court.transfer`: a court orders ownership shares moved.
    case orderTransfer(OrderTransfer)
    /// `key.add`, by the party; the envelope carries the new key's signature too.
    case addKey(AddKey)
    /// `key.revoke`, by the party.
    case revokeKey(RevokeKey)
    /// `key.recovery.request`, by a registrar after re-verifying the party's identity.
    case requestRecovery(RequestRecovery)
    /// `key.recovery.approve`, by a second, different registrar; starts the time lock.
    case approveRecovery(RecoveryReference)
    /// `key.recovery.cancel`, by the party with any of its current keys.
    case cancelRecovery(RecoveryReference)
    /// `key.recovery.complete`, by either registrar once the time lock has passed.
    case completeRecovery(RecoveryReference)
    /// `property.correction.propose`, by a registrar: non-ownership data only.
    case proposeCorrection(ProposeCorrection)
    /// `property.correction.approve`, by a second, different registrar.
    case approveCorrection(CorrectionReference)
    /// `property.access_code`, by an owner: the hash of the code that opens the passport.
    case setAccessCode(SetAccessCode)
    /// `governance.propose`, by a validator operator.
    case proposeGovernance(ProposeGovernance)
    /// `governance.approve`, by a validator operator.
    case approveGovernance(GovernanceReference)
    /// `arrest.impose`, by a court or an enforcement officer.
    case imposeArrest(ImposeArrest)
    /// `arrest.lift`, by the authority that imposed it or by a court.
    case liftArrest(LiftArrest)

    /// The key this action introduces, whose signature on the envelope proves possession.
    public var proposedKey: PublicKey? {
        switch self {
        case let .enroll(body): body.publicKey
        case let .addKey(body): body.publicKey
        case let .requestRecovery(body): body.newKey
        default: nil
        }
    }

    public var typeName: String {
        switch self {
        case .enroll: "identity.enroll"
        case .mint: "token.mint"
        case .burn: "token.burn"
        case .transfer: "token.transfer"
        case .registerProperty: "property.register"
        case .list: "sale.list"
        case .withdrawListing: "sale.withdraw"
        case .buy: "sale.buy"
        case .proposeDeed: "deed.propose"
        case .signDeed: "deed.sign"
        case .attestDeed: "deed.attest"
        case .cancelDeed: "deed.cancel"
        case .confirmPayment: "deed.confirm_payment"
        case .proposePledge: "pledge.propose"
        case .signPledge: "pledge.sign"
        case .registerPledge: "pledge.register"
        case .rejectPledge: "pledge.reject"
        case .releasePledge: "pledge.release"
        case .invalidateDeed: "court.invalidate"
        case .orderTransfer: "court.transfer"
        case .addKey: "key.add"
        case .revokeKey: "key.revoke"
        case .requestRecovery: "key.recovery.request"
        case .approveRecovery: "key.recovery.approve"
        case .cancelRecovery: "key.recovery.cancel"
        case .completeRecovery: "key.recovery.complete"
        case .proposeCorrection: "property.correction.propose"
        case .approveCorrection: "property.correction.approve"
        case .setAccessCode: "property.access_code"
        case .proposeGovernance: "governance.propose"
        case .approveGovernance: "governance.approve"
        case .imposeArrest: "arrest.impose"
        case .liftArrest: "arrest.lift"
        }
    }

    /// The source documents this action cites by hash (title documents, loan agreements, court
    /// orders), each with the record it belongs to: `property/<number>` or, for a court's
    /// invalidation of a deed, `deed/<id>`. Nodes keep the documents themselves off chain.
    public var citedDocuments: [(document: Hash, record: String)] {
        switch self {
        case let .registerProperty(body): [(body.titleDocumentHash, "property/\(body.cadastralNumber)")]
        case let .proposeDeed(body): body.financing.map { [($0.documentHash, "property/\(body.cadastralNumber)")] } ?? []
        case let .proposePledge(body): body.documents.map { ($0, "property/\(body.cadastralNumber)") }
        case let .imposeArrest(body): [(body.orderHash, "property/\(body.cadastralNumber)")]
        case let .liftArrest(body): [(body.orderHash, "property/\(body.cadastralNumber)")]
        case let .invalidateDeed(body): [(body.orderHash, "deed/\(body.deed)")]
        case let .confirmPayment(body): [(body.paymentOrderHash, "deed/\(body.deed)")]
        case let .orderTransfer(body): [(body.orderHash, "property/\(body.cadastralNumber)")]
        case let .proposeCorrection(body): [(body.documentHash, "property/\(body.cadastralNumber)")]
        default: []
        }
    }
}

/// Enrolls a citizen or organization. Other roles are granted by governance (or genesis), never
/// by a registrar alone.
public struct Enroll: Codable, Hashable, Sendable, StrictlyDecodable {
    public var party: PartyID
    public var publicKey: PublicKey
    public var identityCommitment: Hash
    public var name: String

    public init(party: PartyID, publicKey: PublicKey, identityCommitment: Hash, name: String) {
        self.party = party
        self.publicKey = publicKey
        self.identityCommitment = identityCommitment
        self.name = name
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case party, publicKey, identityCommitment, name }
}

public struct Mint: Codable, Hashable, Sendable, StrictlyDecodable {
    public var to: PartyID
    public var amount: Tiyn
    /// The hash of the fiat deposit record that backs the tokens.
    public var depositReference: Hash

    public init(to: PartyID, amount: Tiyn, depositReference: Hash) {
        self.to = to
        self.amount = amount
        self.depositReference = depositReference
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case to, amount, depositReference }
}

public struct Burn: Codable, Hashable, Sendable, StrictlyDecodable {
    public var amount: Tiyn

    public init(amount: Tiyn) {
        self.amount = amount
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case amount }
}

public struct Transfer: Codable, Hashable, Sendable, StrictlyDecodable {
    public var to: PartyID
    public var amount: Tiyn

    public init(to: PartyID, amount: Tiyn) {
        self.to = to
        self.amount = amount
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case to, amount }
}

public struct RegisterProperty: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    public var kind: String
    public var address: String
    public var area: AreaHundredths
    public var location: Coordinate?
    public var owners: [Ownership]
    public var titleDocumentHash: Hash

    public init(cadastralNumber: CadastralNumber, kind: String, address: String, area: AreaHundredths, location: Coordinate?, owners: [Ownership], titleDocumentHash: Hash) {
        self.cadastralNumber = cadastralNumber
        self.kind = kind
        self.address = address
        self.area = area
        self.location = location
        self.owners = owners
        self.titleDocumentHash = titleDocumentHash
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, kind, address, area, location, owners, titleDocumentHash }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cadastralNumber = try container.decode(CadastralNumber.self, forKey: .cadastralNumber)
        kind = try container.decode(String.self, forKey: .kind)
        address = try container.decode(String.self, forKey: .address)
        area = try container.decode(AreaHundredths.self, forKey: .area)
        location = try container.decodeStrictlyIfPresent(Coordinate.self, forKey: .location)
        owners = try container.decodeStrictly([Ownership].self, forKey: .owners)
        titleDocumentHash = try container.decode(Hash.self, forKey: .titleDocumentHash)
    }
}

public struct ListProperty: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    public var price: Tiyn

    public init(cadastralNumber: CadastralNumber, price: Tiyn) {
        self.cadastralNumber = cadastralNumber
        self.price = price
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, price }
}

public struct Buy: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    /// The listed price the buyer agrees to; a changed listing makes the purchase fail.
    public var price: Tiyn

    public init(cadastralNumber: CadastralNumber, price: Tiyn) {
        self.cadastralNumber = cadastralNumber
        self.price = price
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, price }
}

public struct ProposeDeed: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    public var sellers: [Deed.Seller]
    public var buyers: [Deed.Buyer]
    /// Optional: a bank that finances part of the price and takes a pledge at settlement.
    public var financing: Deed.Financing?
    /// Optional: pledges on the property that the buyers take over.
    public var acceptedPledges: [TransactionID]?
    /// Optional: the buyers' bank, when the price is paid outside the token. Nothing is held; the
    /// deed settles when that bank confirms the payment (`deed.confirm_payment`).
    public var paymentBank: PartyID?

    public init(cadastralNumber: CadastralNumber, sellers: [Deed.Seller], buyers: [Deed.Buyer], financing: Deed.Financing? = nil,
                acceptedPledges: [TransactionID]? = nil, paymentBank: PartyID? = nil) {
        self.cadastralNumber = cadastralNumber
        self.sellers = sellers
        self.buyers = buyers
        self.financing = financing
        self.acceptedPledges = acceptedPledges
        self.paymentBank = paymentBank
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, sellers, buyers, financing, acceptedPledges, paymentBank }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cadastralNumber = try container.decode(CadastralNumber.self, forKey: .cadastralNumber)
        sellers = try container.decodeStrictly([Deed.Seller].self, forKey: .sellers)
        buyers = try container.decodeStrictly([Deed.Buyer].self, forKey: .buyers)
        financing = try container.decodeStrictlyIfPresent(Deed.Financing.self, forKey: .financing)
        acceptedPledges = try container.decodeIfPresent([TransactionID].self, forKey: .acceptedPledges)
        paymentBank = try container.decodeIfPresent(PartyID.self, forKey: .paymentBank)
    }
}

/// The paying bank's confirmation that a deed's price was paid outside the token.
public struct ConfirmPayment: Codable, Hashable, Sendable, StrictlyDecodable {
    public var deed: TransactionID
    /// The deed's terms the bank paid for; must equal the deed's terms hash.
    public var termsHash: Hash
    /// The hash of the bank's payment order, kept with the property's documents.
    public var paymentOrderHash: Hash

    public init(deed: TransactionID, termsHash: Hash, paymentOrderHash: Hash) {
        self.deed = deed
        self.termsHash = termsHash
        self.paymentOrderHash = paymentOrderHash
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case deed, termsHash, paymentOrderHash }
}

public struct SignDeed: Codable, Hashable, Sendable, StrictlyDecodable {
    public var deed: TransactionID
    /// The terms the signer agrees to; must equal the deed's current terms hash.
    public var termsHash: Hash

    public init(deed: TransactionID, termsHash: Hash) {
        self.deed = deed
        self.termsHash = termsHash
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case deed, termsHash }
}

public struct DeedReference: Codable, Hashable, Sendable, StrictlyDecodable {
    public var deed: TransactionID

    public init(deed: TransactionID) {
        self.deed = deed
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case deed }
}

public struct ImposeArrest: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    /// The hash of the court order.
    public var orderHash: Hash

    public init(cadastralNumber: CadastralNumber, orderHash: Hash) {
        self.cadastralNumber = cadastralNumber
        self.orderHash = orderHash
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, orderHash }
}

public struct LiftArrest: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    /// The id of the transaction that imposed the arrest.
    public var arrest: TransactionID
    public var orderHash: Hash

    public init(cadastralNumber: CadastralNumber, arrest: TransactionID, orderHash: Hash) {
        self.cadastralNumber = cadastralNumber
        self.arrest = arrest
        self.orderHash = orderHash
    }
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, arrest, orderHash }
}

public struct ProposePledge: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    public var loanAmount: Tiyn
    /// Hashes of the loan agreement and supporting documents the registrar reviews.
    public var documents: [Hash]
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, loanAmount, documents }

    public init(cadastralNumber: CadastralNumber, loanAmount: Tiyn, documents: [Hash]) {
        self.cadastralNumber = cadastralNumber
        self.loanAmount = loanAmount
        self.documents = documents
    }
}

public struct PledgeReference: Codable, Hashable, Sendable, StrictlyDecodable {
    public var pledge: TransactionID
    public enum CodingKeys: String, CodingKey, CaseIterable { case pledge }

    public init(pledge: TransactionID) { self.pledge = pledge }
}

public struct RejectPledge: Codable, Hashable, Sendable, StrictlyDecodable {
    public var pledge: TransactionID
    /// Why the registrar refused, shown to the bank and the owners.
    public var reason: String
    public enum CodingKeys: String, CodingKey, CaseIterable { case pledge, reason }

    public init(pledge: TransactionID, reason: String) {
        self.pledge = pledge
        self.reason = reason
    }
}

public struct InvalidateDeed: Codable, Hashable, Sendable, StrictlyDecodable {
    public var deed: TransactionID
    public var orderHash: Hash
    public enum CodingKeys: String, CodingKey, CaseIterable { case deed, orderHash }
    public init(deed: TransactionID, orderHash: Hash) {
        self.deed = deed
        self.orderHash = orderHash
    }
}

public struct OrderTransfer: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    /// Shares of the whole property taken from these owners…
    public var from: [Ownership]
    /// …and given to these parties; the two sides must be equal.
    public var to: [Ownership]
    public var orderHash: Hash
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, from, to, orderHash }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cadastralNumber = try container.decode(CadastralNumber.self, forKey: .cadastralNumber)
        from = try container.decodeStrictly([Ownership].self, forKey: .from)
        to = try container.decodeStrictly([Ownership].self, forKey: .to)
        orderHash = try container.decode(Hash.self, forKey: .orderHash)
    }
    public init(cadastralNumber: CadastralNumber, from: [Ownership], to: [Ownership], orderHash: Hash) {
        self.cadastralNumber = cadastralNumber
        self.from = from
        self.to = to
        self.orderHash = orderHash
    }
}

public struct AddKey: Codable, Hashable, Sendable, StrictlyDecodable {
    public var publicKey: PublicKey
    public enum CodingKeys: String, CodingKey, CaseIterable { case publicKey }
    public init(publicKey: PublicKey) { self.publicKey = publicKey }
}

public struct RevokeKey: Codable, Hashable, Sendable, StrictlyDecodable {
    public var keyId: KeyID
    public enum CodingKeys: String, CodingKey, CaseIterable { case keyId }
    public init(keyId: KeyID) { self.keyId = keyId }
}

public struct RequestRecovery: Codable, Hashable, Sendable, StrictlyDecodable {
    public var party: PartyID
    /// The key that replaces all of the party's keys when the recovery completes.
    public var newKey: PublicKey
    /// The hash of the identity re-verification record.
    public var verificationHash: Hash
    public enum CodingKeys: String, CodingKey, CaseIterable { case party, newKey, verificationHash }
    public init(party: PartyID, newKey: PublicKey, verificationHash: Hash) {
        self.party = party
        self.newKey = newKey
        self.verificationHash = verificationHash
    }
}

public struct RecoveryReference: Codable, Hashable, Sendable, StrictlyDecodable {
    public var recovery: TransactionID
    public enum CodingKeys: String, CodingKey, CaseIterable { case recovery }
    public init(recovery: TransactionID) { self.recovery = recovery }
}

public struct ProposeCorrection: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    /// Fields to change; absent fields stay. Owners and shares cannot be corrected this way.
    public var kind: String?
    public var address: String?
    public var area: AreaHundredths?
    public var location: Coordinate?
    /// The hash of the document that justifies the correction.
    public var documentHash: Hash
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, kind, address, area, location, documentHash }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cadastralNumber = try container.decode(CadastralNumber.self, forKey: .cadastralNumber)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        address = try container.decodeIfPresent(String.self, forKey: .address)
        area = try container.decodeIfPresent(AreaHundredths.self, forKey: .area)
        location = try container.decodeStrictlyIfPresent(Coordinate.self, forKey: .location)
        documentHash = try container.decode(Hash.self, forKey: .documentHash)
    }
    public init(cadastralNumber: CadastralNumber, kind: String? = nil, address: String? = nil, area: AreaHundredths? = nil, location: Coordinate? = nil, documentHash: Hash) {
        self.cadastralNumber = cadastralNumber
        self.kind = kind
        self.address = address
        self.area = area
        self.location = location
        self.documentHash = documentHash
    }
}

public struct CorrectionReference: Codable, Hashable, Sendable, StrictlyDecodable {
    public var correction: TransactionID
    public enum CodingKeys: String, CodingKey, CaseIterable { case correction }
    public init(correction: TransactionID) { self.correction = correction }
}

public struct SetAccessCode: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    /// The salt and salted hash of the new code (the code itself never goes on chain); absent to
    /// clear the code, so that it opens nothing any more.
    public var code: AccessCode?
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber, code }
    public init(cadastralNumber: CadastralNumber, code: AccessCode?) {
        self.cadastralNumber = cadastralNumber
        self.code = code
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        cadastralNumber = try container.decode(CadastralNumber.self, forKey: .cadastralNumber)
        code = try container.decodeStrictlyIfPresent(AccessCode.self, forKey: .code)
    }
}

public struct WithdrawListing: Codable, Hashable, Sendable, StrictlyDecodable {
    public var cadastralNumber: CadastralNumber
    public enum CodingKeys: String, CodingKey, CaseIterable { case cadastralNumber }
    public init(cadastralNumber: CadastralNumber) { self.cadastralNumber = cadastralNumber }
}

public struct ProposeGovernance: Codable, Hashable, Sendable, StrictlyDecodable {
    public var change: GovernanceChange
    public enum CodingKeys: String, CodingKey, CaseIterable { case change }
    public init(change: GovernanceChange) { self.change = change }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let nested = try container.superDecoder(forKey: .change)
        try GovernanceChange.rejectUnknownKeys(nested)
        change = try GovernanceChange(from: nested)
    }
}

public struct GovernanceReference: Codable, Hashable, Sendable, StrictlyDecodable {
    public var proposal: TransactionID
    public enum CodingKeys: String, CodingKey, CaseIterable { case proposal }
    public init(proposal: TransactionID) { self.proposal = proposal }
}

/// A change that validator operators vote on.
public enum GovernanceChange: Codable, Hashable, Sendable {
    case grantRole(party: PartyID, role: Role)
    case revokeRole(party: PartyID, role: Role)
    case setParameters(Parameters)
    /// The validator set that takes effect at a later height (the node applies it).
    case setValidators([Validator])
}

extension GovernanceChange {
    private enum Case: String, CodingKey, CaseIterable { case grantRole, revokeRole, setParameters, setValidators }
    private enum RoleKeys: String, CodingKey, CaseIterable { case party, role }
    private enum WrappedKeys: String, CodingKey, CaseIterable { case _0 }
    private enum ParameterKeys: String, CodingKey, CaseIterable { case minimumFee, notaryAttestationRequired, deedLifetimeMillis, recoveryTimeLockMillis }
    private enum ValidatorKeys: String, CodingKey, CaseIterable { case publicKey, votingPower }

    /// A change names exactly one kind, and each level holds only its own fields.
    static func rejectUnknownKeys(_ decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Case.self)
        let outer = try decoder.container(keyedBy: Case.self)
        guard outer.allKeys.count == 1, let kind = outer.allKeys.first else {
            throw Rejection(.malformedPayload, "a governance change names exactly one of \(Case.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let inner = try outer.superDecoder(forKey: kind)
        switch kind {
        case .grantRole, .revokeRole:
            try inner.rejectUnknownKeys(RoleKeys.self)
        case .setParameters:
            try inner.rejectUnknownKeys(WrappedKeys.self)
            try inner.container(keyedBy: WrappedKeys.self).superDecoder(forKey: ._0).rejectUnknownKeys(ParameterKeys.self)
        case .setValidators:
            try inner.rejectUnknownKeys(WrappedKeys.self)
            var list = try inner.container(keyedBy: WrappedKeys.self).nestedUnkeyedContainer(forKey: ._0)
            while !list.isAtEnd { try list.superDecoder().rejectUnknownKeys(ValidatorKeys.self) }
        }
    }
}

/// A body whose JSON may hold only its own fields.
public protocol StrictlyDecodable: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable & RawRepresentable where CodingKeys.RawValue == String
}

extension Coordinate: StrictlyDecodable {}

/// Element types nested in bodies refuse unknown fields too. They are decoded with
/// `decodeStrictly`, so that the check applies where they appear in a payload, while records read
/// back from state (written by this ledger) decode as usual.
extension KeyedDecodingContainer {
    func decodeStrictly<T: StrictlyDecodable>(_ type: [T].Type, forKey key: Key) throws -> [T] {
        var list = try nestedUnkeyedContainer(forKey: key)
        var items: [T] = []
        while !list.isAtEnd {
            let decoder = try list.superDecoder()
            try decoder.rejectUnknownKeys(T.CodingKeys.self)
            items.append(try T(from: decoder))
        }
        return items
    }

    func decodeStrictlyIfPresent<T: StrictlyDecodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        let decoder = try superDecoder(forKey: key)
        try decoder.rejectUnknownKeys(T.CodingKeys.self)
        return try T(from: decoder)
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Fails on any key that `T` does not declare. `present` is the object's keys when they are
    /// already known (`PayloadKeys`); otherwise they are read through the decoder.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable & RawRepresentable>(_ keys: Keys.Type, present: [String]? = nil) throws where Keys.RawValue == String {
        // The first unknown key in sorted order, so that the message does not depend on the decoder's key order.
        let present = try present ?? container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if let unknown = present.lazy.filter({ Keys(rawValue: $0) == nil }).min() {
            throw Rejection(.malformedPayload, "unknown field \"\(unknown.prefix(40))\" at \(codingPath.isEmpty ? "the top level" : codingPath.map(\.stringValue).joined(separator: "."))")
        }
    }
}

extension TransactionPayload: Codable {
    private enum CodingKeys: String, CodingKey, CaseIterable { case chainId, signer, nonce, fee, expiresAt, type, body }

    public init(from decoder: any Decoder) throws {
        let scanned = decoder.userInfo[PayloadKeys.userInfoKey] as? PayloadKeys
        try decoder.rejectUnknownKeys(CodingKeys.self, present: scanned?.top)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        chainID = try container.decode(ChainID.self, forKey: .chainId)
        signer = try container.decode(PartyID.self, forKey: .signer)
        nonce = try container.decode(UInt64.self, forKey: .nonce)
        fee = try container.decode(Tiyn.self, forKey: .fee)
        expiresAt = try container.decode(Timestamp.self, forKey: .expiresAt)
        let type = try container.decode(String.self, forKey: .type)
        func body<Body: StrictlyDecodable>(_: Body.Type) throws -> Body {
            let nested = try container.superDecoder(forKey: .body)
            try nested.rejectUnknownKeys(Body.CodingKeys.self, present: scanned?.body)
            return try Body(from: nested)
        }
        switch type {
        case "identity.enroll": action = .enroll(try body(Enroll.self))
        case "token.mint": action = .mint(try body(Mint.self))
        case "token.burn": action = .burn(try body(Burn.self))
        case "token.transfer": action = .transfer(try body(Transfer.self))
        case "property.register": action = .registerProperty(try body(RegisterProperty.self))
        case "sale.list": action = .list(try body(ListProperty.self))
        case "sale.withdraw": action = .withdrawListing(try body(WithdrawListing.self))
        case "sale.buy": action = .buy(try body(Buy.self))
        case "deed.propose": action = .proposeDeed(try body(ProposeDeed.self))
        case "deed.sign": action = .signDeed(try body(SignDeed.self))
        case "deed.attest": action = .attestDeed(try body(DeedReference.self))
        case "deed.cancel": action = .cancelDeed(try body(DeedReference.self))
        case "deed.confirm_payment": action = .confirmPayment(try body(ConfirmPayment.self))
        case "pledge.propose": action = .proposePledge(try body(ProposePledge.self))
        case "pledge.sign": action = .signPledge(try body(PledgeReference.self))
        case "pledge.register": action = .registerPledge(try body(PledgeReference.self))
        case "pledge.reject": action = .rejectPledge(try body(RejectPledge.self))
        case "pledge.release": action = .releasePledge(try body(PledgeReference.self))
        case "court.invalidate": action = .invalidateDeed(try body(InvalidateDeed.self))
        case "court.transfer": action = .orderTransfer(try body(OrderTransfer.self))
        case "key.add": action = .addKey(try body(AddKey.self))
        case "key.revoke": action = .revokeKey(try body(RevokeKey.self))
        case "key.recovery.request": action = .requestRecovery(try body(RequestRecovery.self))
        case "key.recovery.approve": action = .approveRecovery(try body(RecoveryReference.self))
        case "key.recovery.cancel": action = .cancelRecovery(try body(RecoveryReference.self))
        case "key.recovery.complete": action = .completeRecovery(try body(RecoveryReference.self))
        case "property.correction.propose": action = .proposeCorrection(try body(ProposeCorrection.self))
        case "property.correction.approve": action = .approveCorrection(try body(CorrectionReference.self))
        case "property.access_code": action = .setAccessCode(try body(SetAccessCode.self))
        case "governance.propose": action = .proposeGovernance(try body(ProposeGovernance.self))
        case "governance.approve": action = .approveGovernance(try body(GovernanceReference.self))
        case "arrest.impose": action = .imposeArrest(try body(ImposeArrest.self))
        case "arrest.lift": action = .liftArrest(try body(LiftArrest.self))
        default: throw Rejection(.unknownTransactionType, "unknown transaction type \"\(type.prefix(40))\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(chainID, forKey: .chainId)
        try container.encode(signer, forKey: .signer)
        try container.encode(nonce, forKey: .nonce)
        try container.encode(fee, forKey: .fee)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(action.typeName, forKey: .type)
        let body = container.superEncoder(forKey: .body)
        switch action {
        case let .enroll(value): try value.encode(to: body)
        case let .mint(value): try value.encode(to: body)
        case let .burn(value): try value.encode(to: body)
        case let .transfer(value): try value.encode(to: body)
        case let .registerProperty(value): try value.encode(to: body)
        case let .list(value): try value.encode(to: body)
        case let .withdrawListing(value): try value.encode(to: body)
        case let .buy(value): try value.encode(to: body)
        case let .proposeDeed(value): try value.encode(to: body)
        case let .signDeed(value): try value.encode(to: body)
        case let .attestDeed(value): try value.encode(to: body)
        case let .cancelDeed(value): try value.encode(to: body)
        case let .confirmPayment(value): try value.encode(to: body)
        case let .proposePledge(value): try value.encode(to: body)
        case let .signPledge(value): try value.encode(to: body)
        case let .registerPledge(value): try value.encode(to: body)
        case let .rejectPledge(value): try value.encode(to: body)
        case let .releasePledge(value): try value.encode(to: body)
        case let .invalidateDeed(value): try value.encode(to: body)
        case let .orderTransfer(value): try value.encode(to: body)
        case let .addKey(value): try value.encode(to: body)
        case let .revokeKey(value): try value.encode(to: body)
        case let .requestRecovery(value): try value.encode(to: body)
        case let .approveRecovery(value): try value.encode(to: body)
        case let .cancelRecovery(value): try value.encode(to: body)
        case let .completeRecovery(value): try value.encode(to: body)
        case let .proposeCorrection(value): try value.encode(to: body)
        case let .approveCorrection(value): try value.encode(to: body)
        case let .setAccessCode(value): try value.encode(to: body)
        case let .proposeGovernance(value): try value.encode(to: body)
        case let .approveGovernance(value): try value.encode(to: body)
        case let .imposeArrest(value): try value.encode(to: body)
        case let .liftArrest(value): try value.encode(to: body)
        }
    }
}
