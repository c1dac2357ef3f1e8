public import TamgaCore

/// Why the ledger refused a transaction: a stable code, stored in the receipt, that every node
/// gives for the same transaction, and a message for people.
public struct Rejection: CodedError, Equatable {
    /// The stable codes. Their raw values are the codes returned by the API.
    public enum Code: String, Sendable, CaseIterable {
        // Before execution: nothing changes, not even the nonce.
        case malformedPayload = "tx.malformed_payload"
        case unknownTransactionType = "tx.unknown_type"
        case wrongChain = "tx.wrong_chain"
        case expired = "tx.expired"
        case unknownSigner = "tx.unknown_signer"
        case signerSignatureMissing = "tx.signer_signature_missing"
        case unknownKey = "tx.unknown_key"
        case badNonce = "tx.bad_nonce"
        case feeTooLow = "tx.fee_too_low"
        case cannotPayFee = "tx.cannot_pay_fee"
        case duplicateField = "tx.duplicate_field"
        // During execution: the nonce and fee are taken, nothing else changes.
        case roleRequired = "auth.role_required"
        case partyExists = "identity.party_exists"
        case keyInUse = "identity.key_in_use"
        case proofOfKeyMissing = "identity.proof_of_key_missing"
        case unknownParty = "party.unknown"
        case invalidAmount = "token.invalid_amount"
        case insufficientFunds = "token.insufficient_funds"
        case propertyExists = "property.exists"
        case unknownProperty = "property.unknown"
        case invalidShares = "property.invalid_shares"
        case invalidPassport = "property.invalid_passport"
        case ownersSignatureMissing = "sale.owner_signature_missing"
        case notAnOwner = "sale.not_an_owner"
        case notListed = "sale.not_listed"
        case priceChanged = "sale.price_changed"
        case propertyArrested = "sale.property_arrested"
        case propertyPledged = "sale.property_pledged"
        case unknownDeed = "deed.unknown"
        case deedClosed = "deed.closed"
        case deedExpired = "deed.expired"
        case notADeedParty = "deed.not_a_party"
        case alreadySigned = "deed.already_signed"
        case termsMismatch = "deed.terms_mismatch"
        case sharesExceedOwnership = "deed.shares_exceed_ownership"
        case invalidDeed = "deed.invalid"
        case attestationMissing = "deed.attestation_missing"
        case paymentNotDue = "deed.payment_not_due"
        case notThePaymentBank = "deed.not_the_payment_bank"
        case unknownPledge = "pledge.unknown"
        case pledgeNotPending = "pledge.not_pending"
        case pledgeUnsigned = "pledge.owner_signature_missing"
        case notThePledgeHolder = "pledge.not_the_holder"
        case deedNotSettled = "court.deed_not_settled"
        case ownershipMoved = "court.ownership_moved"
        case lastKey = "identity.last_key"
        case unknownRecovery = "recovery.unknown"
        case recoveryNotPending = "recovery.not_pending"
        case sameRegistrar = "recovery.same_registrar"
        case timeLocked = "recovery.time_locked"
        case unknownCorrection = "correction.unknown"
        case correctionNotPending = "correction.not_pending"
        case correctionSameRegistrar = "correction.same_registrar"
        case emptyCorrection = "correction.empty"
        case unknownProposal = "governance.unknown"
        case proposalClosed = "governance.closed"
        case alreadyApproved = "governance.already_approved"
        case unknownArrest = "arrest.unknown"
        case notTheImposer = "arrest.not_the_imposer"
        case arithmeticOverflow = "ledger.overflow"
        case limitExceeded = "ledger.limit_exceeded"
        case recordTooLarge = "ledger.record_too_large"
        case invalidParameters = "governance.invalid_parameters"
        case listingStale = "sale.listing_stale"
    }

    public let reason: Code
    public let message: String

    public init(_ reason: Code, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var code: String { reason.rawValue }

    /// Whether the rejection happened before execution, so that even the nonce stays unchanged.
    public var isBeforeExecution: Bool {
        switch reason {
        case .malformedPayload, .unknownTransactionType, .wrongChain, .expired, .unknownSigner, .signerSignatureMissing,
             .unknownKey, .badNonce, .feeTooLow, .cannotPayFee, .duplicateField:
            true
        default:
            false
        }
    }
}
