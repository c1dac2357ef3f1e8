import Foundation
import HTTPTypes
import Hummingbird
import TamgaCore
import TamgaIntegrations
import TamgaLedger
import TamgaNode
import TamgaStorage

/// Webhook subscriptions (a party's own, with their delivery status and replay) and people's
/// contact details for SMS and e-mail (recorded by a registrar with the person's consent).
enum IntegrationRoutes {
    static let webhooksPerParty = 16
    static let kindsPerWebhook = 32
    /// Roles whose subscriptions may take every event of the chain, not only those naming them.
    static let wholeChainRoles: Set<Role> = [.registrar, .court]

    static func add(to router: Router<APIRequestContext>, node: Node, gate: Gate, store: IntegrationStore, allowPrivateAddresses: Bool) {
        router.post("/v1/parties/:id/webhooks") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            let asked: WebhookRequest = try await NodeAPI.decodeBody(request)
            do { try WebhookAddress.check(asked.url, allowPrivate: allowPrivateAddresses) } catch let error as WebhookAddress.Refused {
                throw Problem(status: .badRequest, code: "webhook.bad_url", detail: error.description)
            }
            let kinds = asked.kinds ?? []
            guard kinds.count <= kindsPerWebhook, kinds.allSatisfy(isKindPattern) else {
                throw Problem(status: .badRequest, code: "webhook.bad_kinds",
                              detail: "kinds are at most \(kindsPerWebhook) event kinds (pledge.registered) or families (pledge.*)")
            }
            let property = try asked.property.map { text in
                guard let number = try? CadastralNumber(text) else { throw Problem(status: .badRequest, code: "request.bad_cadastral_number", detail: "not a cadastral number") }
                return number
            }
            let roles = Set(try await node.party(party)?.record.roles ?? [])
            if asked.allParties == true, roles.isDisjoint(with: wholeChainRoles) {
                throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "only a registrar or a court may take every event of the chain")
            }
            guard try store.webhooks(of: party).count < webhooksPerParty else {
                throw Problem(status: .conflict, code: "webhook.too_many", detail: "a party holds at most \(webhooksPerParty) subscriptions on a node")
            }
            let webhook = Webhook(id: "wh_" + Hash.sha256(Array(UUID().uuidString.utf8)).hex.prefix(24), party: party, url: asked.url,
                                  secret: StandardWebhooks.newSecret(), kinds: kinds, property: property, allParties: asked.allParties ?? false,
                                  fromHeight: await node.status().height.rawValue + 1, createdAt: Node.wallClock())
            try store.addWebhook(webhook)
            return try NodeAPI.json(WebhookBody(webhook, showingSecret: true), status: .created)
        }
        router.get("/v1/parties/:id/webhooks") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            return try NodeAPI.json(try store.webhooks(of: party).map { WebhookBody($0, showingSecret: false) })
        }
        router.delete("/v1/parties/:id/webhooks/:webhook") { request, context in
            let webhook = try await ownWebhook(request, context, gate: gate, store: store)
            _ = try store.removeWebhook(webhook.id)
            return Response(status: .noContent)
        }
        router.get("/v1/parties/:id/webhooks/:webhook/deliveries") { request, context in
            let webhook = try await ownWebhook(request, context, gate: gate, store: store)
            let after = try request.uri.queryParameters.get("after").map { text -> Int64 in
                guard let value = Int64(text), value >= 0 else { throw Problem(status: .badRequest, code: "request.bad_cursor", detail: "after is a delivery's seq") }
                return value
            } ?? 0
            let limit = try NodeAPI.pageLimit(request)
            let entries = try store.entries(channel: .webhook, target: webhook.id, after: after, limit: limit)
            return try NodeAPI.json(Page(items: entries.map(DeliveryBody.init), next: entries.count == limit ? entries.last.map { String($0.seq) } : nil))
        }
        router.post("/v1/parties/:id/webhooks/:webhook/replay") { request, context in
            let webhook = try await ownWebhook(request, context, gate: gate, store: store)
            let asked: ReplayRequest = try await NodeAPI.decodeBody(request)
            guard asked.from >= 0 else { throw Problem(status: .badRequest, code: "request.bad_cursor", detail: "from is a delivery's seq") }
            return try NodeAPI.json(["requeued": try store.replay(webhook: webhook.id, from: asked.from, at: Node.wallClock())])
        }

        router.put("/v1/parties/:id/contact") { request, context in
            guard let party = try? PartyID(context.parameters.get("id") ?? "") else {
                throw Problem(status: .badRequest, code: "request.bad_party_id", detail: "not a party id")
            }
            let session = try await gate.requireRole(.registrar, request: request, for: "recording a person's contact details")
            guard try await node.party(party) != nil else { throw Problem(status: .notFound, code: "party.unknown", detail: "no enrolled party \(party)") }
            // The registrar who checked the person's identity at enrollment records their details
            // (any registrar, for a party of genesis, whom nobody enrolled on chain).
            if let enrolledBy = try enrollingRegistrar(of: party, node: node), enrolledBy != session.party {
                throw Problem(status: .forbidden, code: "contact.not_the_enrolling_registrar",
                              detail: "\(party) was enrolled by \(enrolledBy), whose office records their contact details")
            }
            let asked: ContactRequest = try await NodeAPI.decodeBody(request)
            guard asked.consent else {
                throw Problem(status: .badRequest, code: "contact.no_consent", detail: "contact details are kept only with the person's consent (consent: true)")
            }
            guard asked.phone != nil || asked.email != nil else { throw Problem(status: .badRequest, code: "contact.empty", detail: "give a phone, an e-mail address or both") }
            if let phone = asked.phone, !isPhone(phone) {
                throw Problem(status: .badRequest, code: "contact.bad_phone", detail: "a phone number is written +<country code><number>, 8 to 15 digits")
            }
            if let email = asked.email, !isEmail(email) {
                throw Problem(status: .badRequest, code: "contact.bad_email", detail: "not an e-mail address")
            }
            let language = asked.language ?? "kk"
            guard ["kk", "ru", "en"].contains(language) else { throw Problem(status: .badRequest, code: "contact.bad_language", detail: "language is kk, ru or en") }
            // An opt-out stands until the person takes it back themself (`opt-in`).
            let contact = Contact(party: party, phone: asked.phone, email: asked.email, language: language, consentAt: Node.wallClock(),
                                  optedOutAt: nil, recordedBy: session.party, fromHeight: await node.status().height.rawValue + 1)
            return try NodeAPI.json(try store.recordContact(contact))
        }
        // Only the person has their details forgotten: a registrar's deletion followed by a new
        // record would undo their opt-out.
        router.delete("/v1/parties/:id/contact") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            guard try store.removeContact(of: party) else {
                throw Problem(status: .notFound, code: "contact.unknown", detail: "this node keeps no contact details of \(party)")
            }
            return Response(status: .noContent)
        }
        router.get("/v1/parties/:id/contact") { request, context in
            let party = try await selfOrRegistrar(request, context, gate: gate)
            guard let contact = try store.contact(of: party) else {
                throw Problem(status: .notFound, code: "contact.unknown", detail: "this node keeps no contact details of \(party)")
            }
            return try NodeAPI.json(contact)
        }
        router.post("/v1/parties/:id/contact/opt-out") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            let now = Node.wallClock()
            guard let contact = try store.changeContact(of: party, { $0.optedOutAt = $0.optedOutAt ?? now }) else {
                throw Problem(status: .notFound, code: "contact.unknown", detail: "this node keeps no contact details of \(party)")
            }
            return try NodeAPI.json(contact)
        }
        router.post("/v1/parties/:id/contact/opt-in") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            let (now, next) = (Node.wallClock(), await node.status().height.rawValue + 1)
            let changed = try store.changeContact(of: party) { contact in
                guard contact.optedOutAt != nil else { return }
                // Told again only of what happens from now on.
                contact.optedOutAt = nil
                contact.consentAt = now
                contact.fromHeight = next
            }
            guard let changed else {
                throw Problem(status: .notFound, code: "contact.unknown", detail: "this node keeps no contact details of \(party)")
            }
            return try NodeAPI.json(changed)
        }
    }

    /// The registrar whose `identity.enroll` made the party, or nil for a party of genesis. A node
    /// that joined by state sync after the enrolment holds no record of it and refuses, rather
    /// than let any registrar change the details.
    static func enrollingRegistrar(of party: PartyID, node: Node) throws -> PartyID? {
        if node.genesis.parties.contains(where: { $0.id == party }) { return nil }
        guard let first = try node.events(about: "party/\(party)", after: nil, limit: 1).first, first.event.kind == "identity.enrolled" else {
            throw Problem(status: .conflict, code: "contact.enrolment_unknown",
                          detail: "this node holds the chain from block \(try node.firstHeldBlock()) on, not \(party)'s enrolment; "
                              + "record the contact details on a node that holds the whole chain")
        }
        return first.event.parties.first { $0 != party }
    }

    static func ownWebhook(_ request: Request, _ context: APIRequestContext, gate: Gate, store: IntegrationStore) async throws -> Webhook {
        let party = try await gate.requireSelf(request, context: context)
        guard let id = context.parameters.get("webhook"), let webhook = try store.webhook(id), webhook.party == party else {
            throw Problem(status: .notFound, code: "webhook.unknown", detail: "\(party) has no such subscription on this node")
        }
        return webhook
    }

    static func selfOrRegistrar(_ request: Request, _ context: APIRequestContext, gate: Gate) async throws -> PartyID {
        guard let party = try? PartyID(context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "request.bad_party_id", detail: "not a party id")
        }
        guard let session = try await gate.session(request) else {
            throw Problem(status: .unauthorized, code: "auth.required", detail: "this needs a session of \(party) or of a registrar")
        }
        guard session.party == party || session.roles.contains(.registrar) else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "a session of \(session.party) cannot read \(party)'s contact details")
        }
        return party
    }

    static func isKindPattern(_ kind: String) -> Bool {
        let body = kind.hasSuffix(".*") ? String(kind.dropLast(2)) : kind
        return (1...64).contains(kind.utf8.count) && !body.isEmpty && body.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || $0 == 46 || $0 == 95 }
    }

    static func isPhone(_ text: String) -> Bool {
        text.first == "+" && (8...15).contains(text.count - 1) && text.dropFirst().allSatisfy(\.isASCII) && text.dropFirst().allSatisfy(\.isNumber)
            && text.dropFirst().first != "0"
    }

    static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return text.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && text.allSatisfy { $0.isASCII && !$0.isWhitespace && !"<>()[],;:\"\\".contains($0) }
    }
}

struct WebhookRequest: Decodable {
    let url: String
    let kinds: [String]?
    let property: String?
    let allParties: Bool?
}

struct ReplayRequest: Decodable {
    let from: Int64
}

struct ContactRequest: Decodable {
    let phone: String?
    let email: String?
    let language: String?
    let consent: Bool
}

struct WebhookBody: Encodable {
    let id: String
    let url: String
    let kinds: [String]
    let property: CadastralNumber?
    let allParties: Bool
    let fromHeight: UInt64
    /// Only in the answer that made the subscription.
    let secret: String?

    init(_ webhook: Webhook, showingSecret: Bool) {
        id = webhook.id
        url = webhook.url
        kinds = webhook.kinds
        property = webhook.property
        allParties = webhook.allParties
        fromHeight = webhook.fromHeight
        secret = showingSecret ? webhook.secret : nil
    }
}

struct DeliveryBody: Encodable {
    let seq: Int64
    let eventId: String
    let state: OutboxEntry.State
    let attempts: Int
    let lastError: String?
    let nextAttemptAt: Timestamp?
    let deliveredAt: Timestamp?

    init(_ entry: OutboxEntry) {
        seq = entry.seq
        eventId = entry.eventID
        state = entry.state
        attempts = entry.attempts
        lastError = entry.lastError
        nextAttemptAt = entry.state == .pending ? entry.nextAttemptAt : nil
        deliveredAt = entry.deliveredAt
    }
}
