import ArgumentParser
import Foundation
import NIOHTTP1
import TamgaCore
import TamgaLedger

// One `tamga tx` subcommand per transaction family, each building its body from typed options.
// `tamga tx send` remains for the bodies these do not cover (deeds with many parties, corrections,
// governance proposals, ordered transfers).

/// Who signs, and where to send: shared by every `tamga tx` subcommand.
struct SignerOptions: ParsableArguments {
    @OptionGroup var node: NodeOptions
    @Option(help: "A key file to sign with: the signer's first; repeat for co-signers (such as a new key proving itself).") var key: [String]
    @Option(help: "The signing party's id.") var party: String
    @Option(help: "The fee in tiyn (at least the network's minimum, 100 by default).") var fee: UInt64 = 100
    @Option(help: "Minutes until the transaction expires.") var expiresInMinutes: UInt64 = 60

    func validate() throws {
        guard !key.isEmpty else { throw ValidationError("--key is required") }
    }

    /// Signs `action` with the next nonce (asked of the node) and submits it, waiting for finality.
    func submit(_ action: Action) async throws {
        let payload = try await payload(for: action)
        try await submit(payload)
    }

    func payload(for action: Action) async throws -> TransactionPayload {
        let (status, nonce) = try await NodeClient.with(node) { client in
            (try await client.get("/v1/status", as: NodeClient.StatusReply.self),
             try await client.get("/v1/parties/\(party)", as: NodeClient.PartyReply.self)?.nonce)
        }
        guard let status, let nonce else { throw CommandFailure("\(party) is not enrolled on \(node.node)") }
        return TransactionPayload(
            chainID: try ChainID(status.chainId), signer: try PartyID(party), nonce: nonce + 1, fee: Tiyn(fee),
            expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + expiresInMinutes * 60_000), action: action)
    }

    func submit(_ payload: TransactionPayload) async throws {
        let keys = try key.map { try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: $0)))) }
        let envelope = try SignedEnvelope.signing(payload.encoded(), with: keys)
        try await runRequest(node, "/v1/transactions?wait=commit", method: .POST,
                             headers: [("Idempotency-Key", envelope.transactionID.description)], body: try JSONEncoder().encode(envelope))
    }
}

/// Parsers for option values.
func parseHash(_ text: String, _ name: String) throws -> Hash {
    guard let hash = Hash(hex: text) else { throw ValidationError("\(name) is 64 hex characters (a SHA-256)") }
    return hash
}

func parseID(_ text: String, _ name: String) throws -> TransactionID { TransactionID(hash: try parseHash(text, name)) }

extension TxCommand {
    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "identity.enroll: a registrar enrolls a party; repeat --key with the new party's key file to prove it.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The new party's id.") var newParty: String
        @Option(help: "The new party's key file (its public key is enrolled; it co-signs).") var newKey: String
        @Option(help: "SHA-256 of salt and IIN/BIN, computed by the registrar (64 hex).") var identityCommitment: String
        @Option(help: "The party's name.") var name: String
        func run() async throws {
            let key = try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: newKey))))
            var options = signer
            if !options.key.contains(newKey) { options.key.append(newKey) }
            try await options.submit(.enroll(TamgaLedger.Enroll(party: try PartyID(newParty), publicKey: key.publicKey,
                                                                identityCommitment: try parseHash(identityCommitment, "--identity-commitment"), name: name)))
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "register-property", abstract: "property.register: a registrar registers a property with one owner (use send for co-owners).")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "apartment, house, land, ...") var kind: String
        @Option(help: "The address.") var address: String
        @Option(help: "Area in hundredths of a square metre.") var area: UInt64
        @Option(help: "The owner's party id (whole share).") var owner: String
        @Option(help: "SHA-256 of the title document (64 hex).") var titleHash: String
        func run() async throws {
            try await signer.submit(.registerProperty(RegisterProperty(
                cadastralNumber: try CadastralNumber(property), kind: kind, address: address, area: AreaHundredths(area), location: nil,
                owners: [Ownership(party: try PartyID(owner), share: .whole)], titleDocumentHash: try parseHash(titleHash, "--title-hash"))))
        }
    }

    struct AccessCode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "access-code", abstract: "property.access_code: an owner sets the passport's access code (only its hash goes on chain).")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Flag(help: "Clear the code, so that it opens the passport no more.") var clear = false
        func run() async throws {
            let number = try CadastralNumber(property)
            guard !clear else { return try await signer.submit(.setAccessCode(SetAccessCode(cadastralNumber: number, code: nil))) }
            // 16 base32 characters: 80 random bits, shown once and never stored here.
            var generator = SystemRandomNumberGenerator()
            let letters = (0..<16).map { _ in TamgaLedger.AccessCode.alphabet[Int(generator.next(upperBound: UInt32(32)))] }
            let code = stride(from: 0, to: 16, by: 4).map { String(letters[$0..<$0 + 4]) }.joined(separator: "-")
            let salt = Hash.sha256((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try await signer.submit(.setAccessCode(SetAccessCode(cadastralNumber: number, code: TamgaLedger.AccessCode(salt: salt, codeHash: TamgaLedger.AccessCode.hash(code, salt: salt)))))
            print("access code: \(code) (give it to whoever may read the passport; it is shown only now)")
        }
    }

    struct Mint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "token.mint: the issuer mints tokens against a fiat deposit.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The receiving party.") var to: String
        @Option(help: "Tiyn.") var amount: UInt64
        @Option(help: "SHA-256 of the deposit's reference (64 hex).") var depositReference: String
        func run() async throws {
            try await signer.submit(.mint(TamgaLedger.Mint(to: try PartyID(to), amount: Tiyn(amount), depositReference: try parseHash(depositReference, "--deposit-reference"))))
        }
    }

    struct Burn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "token.burn: the issuer redeems tokens.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "Tiyn.") var amount: UInt64
        func run() async throws { try await signer.submit(.burn(TamgaLedger.Burn(amount: Tiyn(amount)))) }
    }

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "token.transfer: pay another party.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The receiving party.") var to: String
        @Option(help: "Tiyn.") var amount: UInt64
        func run() async throws { try await signer.submit(.transfer(TamgaLedger.Transfer(to: try PartyID(to), amount: Tiyn(amount)))) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "sale.list: every co-owner lists the property at a price.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "Tiyn.") var price: UInt64
        func run() async throws { try await signer.submit(.list(ListProperty(cadastralNumber: try CadastralNumber(property), price: Tiyn(price)))) }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "sale.withdraw: any one owner takes the property off sale.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        func run() async throws { try await signer.submit(.withdrawListing(WithdrawListing(cadastralNumber: try CadastralNumber(property)))) }
    }

    struct Buy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "sale.buy: buy a listed property; the price is held in escrow and settles when the deed is complete.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "Tiyn: the listed price.") var price: UInt64
        func run() async throws { try await signer.submit(.buy(TamgaLedger.Buy(cadastralNumber: try CadastralNumber(property), price: Tiyn(price)))) }
    }

    struct DeedSign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "deed-sign", abstract: "deed.sign: a party signs a deed's terms (see `tamga query deed`).")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The deed id.") var deed: String
        @Option(help: "The deed's terms hash (64 hex).") var termsHash: String
        func run() async throws { try await signer.submit(.signDeed(SignDeed(deed: try parseID(deed, "--deed"), termsHash: try parseHash(termsHash, "--terms-hash")))) }
    }

    struct DeedAttest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "deed-attest", abstract: "deed.attest: a notary attests the parties' free will.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The deed id.") var deed: String
        func run() async throws { try await signer.submit(.attestDeed(DeedReference(deed: try parseID(deed, "--deed")))) }
    }

    struct DeedConfirmPayment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deed-confirm-payment",
            abstract: "deed.confirm_payment: the bank a deed names confirms it paid the price outside the token; the deed settles.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The deed id.") var deed: String
        @Option(help: "The deed's terms hash (64 hex).") var termsHash: String
        @Option(help: "SHA-256 of the bank's payment order (64 hex).") var paymentOrderHash: String
        func run() async throws {
            try await signer.submit(.confirmPayment(ConfirmPayment(deed: try parseID(deed, "--deed"), termsHash: try parseHash(termsHash, "--terms-hash"),
                                                                   paymentOrderHash: try parseHash(paymentOrderHash, "--payment-order-hash"))))
        }
    }

    struct DeedCancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "deed-cancel", abstract: "deed.cancel: a party cancels an open deed; every hold is released.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The deed id.") var deed: String
        func run() async throws { try await signer.submit(.cancelDeed(DeedReference(deed: try parseID(deed, "--deed")))) }
    }

    struct PledgePropose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pledge-propose", abstract: "pledge.propose: a bank proposes a pledge with its documents' hashes.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "The loan, tiyn.") var loan: UInt64
        @Option(help: "SHA-256 of a document (64 hex); repeat for each.") var document: [String]
        func run() async throws {
            try await signer.submit(.proposePledge(ProposePledge(cadastralNumber: try CadastralNumber(property), loanAmount: Tiyn(loan),
                                                                 documents: try document.map { try parseHash($0, "--document") })))
        }
    }

    struct PledgeSign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pledge-sign", abstract: "pledge.sign: an owner signs a proposed pledge.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The pledge id.") var pledge: String
        func run() async throws { try await signer.submit(.signPledge(PledgeReference(pledge: try parseID(pledge, "--pledge")))) }
    }

    struct PledgeRegister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pledge-register", abstract: "pledge.register: a registrar registers a signed pledge after review.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The pledge id.") var pledge: String
        func run() async throws { try await signer.submit(.registerPledge(PledgeReference(pledge: try parseID(pledge, "--pledge")))) }
    }

    struct PledgeReject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pledge-reject", abstract: "pledge.reject: a registrar rejects a pledge, with the reason.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The pledge id.") var pledge: String
        @Option(help: "Why.") var reason: String
        func run() async throws { try await signer.submit(.rejectPledge(RejectPledge(pledge: try parseID(pledge, "--pledge"), reason: reason))) }
    }

    struct PledgeRelease: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pledge-release", abstract: "pledge.release: the holding bank releases its pledge.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The pledge id.") var pledge: String
        func run() async throws { try await signer.submit(.releasePledge(PledgeReference(pledge: try parseID(pledge, "--pledge")))) }
    }

    struct ArrestImpose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "arrest-impose", abstract: "arrest.impose: a court or enforcement officer arrests a property.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "SHA-256 of the order (64 hex).") var orderHash: String
        func run() async throws { try await signer.submit(.imposeArrest(ImposeArrest(cadastralNumber: try CadastralNumber(property), orderHash: try parseHash(orderHash, "--order-hash")))) }
    }

    struct ArrestLift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "arrest-lift", abstract: "arrest.lift: the imposing authority or a court lifts an arrest.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "The arrest id.") var arrest: String
        @Option(help: "SHA-256 of the order (64 hex).") var orderHash: String
        func run() async throws {
            try await signer.submit(.liftArrest(LiftArrest(cadastralNumber: try CadastralNumber(property), arrest: try parseID(arrest, "--arrest"),
                                                           orderHash: try parseHash(orderHash, "--order-hash"))))
        }
    }

    struct CourtInvalidate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "court-invalidate", abstract: "court.invalidate: a court invalidates a settled deed by a compensating transaction.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The deed id.") var deed: String
        @Option(help: "SHA-256 of the ruling (64 hex).") var orderHash: String
        func run() async throws { try await signer.submit(.invalidateDeed(InvalidateDeed(deed: try parseID(deed, "--deed"), orderHash: try parseHash(orderHash, "--order-hash")))) }
    }

    struct KeyAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "key-add", abstract: "key.add: a party adds a key; repeat --key with the new key file to prove it.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The new key file (it co-signs).") var newKey: String
        func run() async throws {
            let key = try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: newKey))))
            var options = signer
            if !options.key.contains(newKey) { options.key.append(newKey) }
            try await options.submit(.addKey(AddKey(publicKey: key.publicKey)))
        }
    }

    struct KeyRevoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "key-revoke", abstract: "key.revoke: a party revokes one of its keys.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The key id (64 hex).") var keyId: String
        func run() async throws { try await signer.submit(.revokeKey(RevokeKey(keyId: KeyID(hash: try parseHash(keyId, "--key-id"))))) }
    }

    struct RecoveryRequest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "recovery-request", abstract: "key.recovery.request: registrar A asks to replace a party's keys; the new key co-signs.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The party whose keys are lost.") var forParty: String
        @Option(help: "The new key file (it co-signs).") var newKey: String
        @Option(help: "SHA-256 of the identity re-verification record (64 hex).") var verificationHash: String
        func run() async throws {
            let key = try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: newKey))))
            var options = signer
            if !options.key.contains(newKey) { options.key.append(newKey) }
            try await options.submit(.requestRecovery(RequestRecovery(party: try PartyID(forParty), newKey: key.publicKey,
                                                                      verificationHash: try parseHash(verificationHash, "--verification-hash"))))
        }
    }

    struct RecoveryStep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "recovery", abstract: "key.recovery.approve|cancel|complete: registrar B approves, any current key cancels, a registrar completes after the time lock.")
        enum Step: String, ExpressibleByArgument, CaseIterable { case approve, cancel, complete }
        @OptionGroup var signer: SignerOptions
        @Argument(help: "approve, cancel or complete.") var step: Step
        @Option(help: "The recovery id (the request's transaction id).") var recovery: String
        func run() async throws {
            let reference = RecoveryReference(recovery: try parseID(recovery, "--recovery"))
            switch step {
            case .approve: try await signer.submit(.approveRecovery(reference))
            case .cancel: try await signer.submit(.cancelRecovery(reference))
            case .complete: try await signer.submit(.completeRecovery(reference))
            }
        }
    }

    struct GovernanceApprove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "governance-approve", abstract: "governance.approve: a validator operator approves a proposal.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The proposal id.") var proposal: String
        func run() async throws { try await signer.submit(.approveGovernance(GovernanceReference(proposal: try parseID(proposal, "--proposal")))) }
    }
}

/// `party:share` (a share is `1`, `1/2`, ...), for deed and transfer options.
func parseOwnership(_ text: String, _ name: String) throws -> (party: PartyID, share: Share, rest: [Substring]) {
    let parts = text.split(separator: ":")
    guard parts.count >= 2, let party = try? PartyID(String(parts[0])), let share = try? Share(parsing: String(parts[1])) else {
        throw ValidationError("\(name) is party:share, such as citizen-1:1/2")
    }
    return (party, share, Array(parts.dropFirst(2)))
}

extension TxCommand {
    struct DeedPropose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deed-propose",
            abstract: "deed.propose: a deed with several sellers and buyers and an optional financing bank; every party then signs it.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(help: "A seller and the share sold, party:share; repeat for each.") var seller: [String]
        @Option(help: "A buyer, the share bought and what it pays in tiyn, party:share:pays; repeat for each.") var buyer: [String]
        @Option(help: "A financing bank, bank:amount:documentHash.") var financing: String?
        @Option(help: "A registered pledge the buyers accept (its id); repeat for each.") var acceptPledge: [String] = []
        @Option(help: "The buyers' bank, when the price is paid outside the token: nothing is held, and the deed settles when this bank confirms the payment (deed-confirm-payment).")
        var paymentBank: String?
        func run() async throws {
            let sellers = try seller.map { text -> Deed.Seller in
                let parsed = try parseOwnership(text, "--seller")
                return Deed.Seller(party: parsed.party, share: parsed.share)
            }
            let buyers = try buyer.map { text -> Deed.Buyer in
                let parsed = try parseOwnership(text, "--buyer")
                guard parsed.rest.count == 1, let pays = UInt64(parsed.rest[0]) else { throw ValidationError("--buyer is party:share:pays") }
                return Deed.Buyer(party: parsed.party, share: parsed.share, pays: Tiyn(pays))
            }
            let bank = try financing.map { text -> Deed.Financing in
                let parts = text.split(separator: ":").map(String.init)
                guard parts.count == 3, let party = try? PartyID(parts[0]), let amount = UInt64(parts[1]) else {
                    throw ValidationError("--financing is bank:amount:documentHash")
                }
                return Deed.Financing(bank: party, amount: Tiyn(amount), documentHash: try parseHash(parts[2], "--financing document hash"))
            }
            try await signer.submit(.proposeDeed(ProposeDeed(
                cadastralNumber: try CadastralNumber(property), sellers: sellers, buyers: buyers, financing: bank,
                acceptedPledges: acceptPledge.isEmpty ? nil : try acceptPledge.map { try parseID($0, "--accept-pledge") },
                paymentBank: try paymentBank.map { try PartyID($0) })))
        }
    }

    struct CourtTransfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "court-transfer", abstract: "court.transfer: a court orders shares moved from some parties to others.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "The cadastral number.") var property: String
        @Option(name: .customLong("from"), help: "A party losing a share, party:share; repeat for each.") var fromParty: [String]
        @Option(name: .customLong("to"), help: "A party receiving a share, party:share; repeat for each.") var toParty: [String]
        @Option(help: "SHA-256 of the court order (64 hex).") var orderHash: String
        func run() async throws {
            let from = try fromParty.map { text -> Ownership in
                let parsed = try parseOwnership(text, "--from")
                return Ownership(party: parsed.party, share: parsed.share)
            }
            let to = try toParty.map { text -> Ownership in
                let parsed = try parseOwnership(text, "--to")
                return Ownership(party: parsed.party, share: parsed.share)
            }
            try await signer.submit(.orderTransfer(OrderTransfer(cadastralNumber: try CadastralNumber(property), from: from, to: to,
                                                                 orderHash: try parseHash(orderHash, "--order-hash"))))
        }
    }

    struct GovernancePropose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "governance-propose",
            abstract: "governance.propose: a validator operator proposes a change; it applies once operators with more than 2/3 of the votes approve.")
        @OptionGroup var signer: SignerOptions
        @Option(help: "Grant a role, party:role (such as bank-2:bank).") var grantRole: String?
        @Option(help: "Revoke a role, party:role.") var revokeRole: String?
        @Option(help: "A JSON file with the new parameters (minimumFee, notaryAttestationRequired, deedLifetimeMillis, recoveryTimeLockMillis).") var parameters: String?
        @Option(help: "A JSON file with the whole new validator set, in index order: [{\"publicKey\": \"ed25519:<hex>\", \"votingPower\": 1}, ...]. Decided at block H, it governs from H + 2.")
        var validators: String?
        func run() async throws {
            func role(_ text: String, _ name: String) throws -> (PartyID, Role) {
                let parts = text.split(separator: ":").map(String.init)
                guard parts.count == 2, let party = try? PartyID(parts[0]), let role = Role(rawValue: parts[1]) else {
                    throw ValidationError("\(name) is party:role, a role being one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return (party, role)
            }
            let changes: [GovernanceChange] = try [
                grantRole.map { let (party, role) = try role($0, "--grant-role"); return .grantRole(party: party, role: role) },
                revokeRole.map { let (party, role) = try role($0, "--revoke-role"); return .revokeRole(party: party, role: role) },
                parameters.map { .setParameters(try JSONDecoder().decode(Parameters.self, from: try Data(contentsOf: URL(fileURLWithPath: $0)))) },
                try validators.map(Self.validatorSet),
            ].compactMap { $0 }
            guard changes.count == 1, let change = changes.first else { throw ValidationError("give exactly one of --grant-role, --revoke-role, --parameters, --validators") }
            try await signer.submit(.proposeGovernance(ProposeGovernance(change: change)))
        }

        private static func validatorSet(file: String) throws -> GovernanceChange {
            let set = try JSONDecoder().decode([Validator].self, from: try Data(contentsOf: URL(fileURLWithPath: file)))
            do { _ = try ValidatorSet(set) } catch { throw ValidationError("--validators: \(error.message)") }
            return .setValidators(set)
        }
    }
}
