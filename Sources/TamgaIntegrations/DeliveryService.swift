public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
public import TamgaCore
import TamgaLedger
import TamgaConsensus
public import TamgaNode

/// Turns events into the words of a message, in the person's language.
public struct MessageCatalog: Sendable {
    /// Event kind labels by language (`en`, `ru`, `kk`), e.g. the portal's `event.<kind>` messages.
    let labels: [String: [String: String]]

    public init(labels: [String: [String: String]]) { self.labels = labels }

    public func render(_ event: FeedEvent, language: String) -> (subject: String, text: String) {
        let label = labels[language]?[event.event.kind] ?? labels["en"]?[event.event.kind] ?? event.event.kind
        let about = event.event.properties.map(\.rawValue).joined(separator: ", ")
        let text = about.isEmpty ? "Tamga: \(label)." : "Tamga: \(label): \(about)."
        return ("Tamga: \(label)", text)
    }
}

/// The node's deliveries, as a service beside it: puts every committed event in the outbox of
/// each webhook and person it concerns (once, by the stored cursor), then sends what is due,
/// retrying with back-off. A target's messages go in order, one at a time, so a receiver sees
/// events in chain order; a message given up on is marked failed and the next one goes.
public struct DeliveryService: Service {
    public struct Settings: Sendable {
        public var allowPrivateAddresses = false
        public var retryBase = Duration.seconds(1)
        public var retryMax = Duration.seconds(3_600)
        public var attemptsMax = 15
        public var poll = Duration.milliseconds(200)

        public init() {}
    }

    let node: Node
    let store: IntegrationStore
    public let deliverer: Deliverer
    let catalog: MessageCatalog
    let logger: Logger

    public init(node: Node, store: IntegrationStore, http: HTTPClient, sms: (any MessageSender)?, email: (any MessageSender)?,
                catalog: MessageCatalog, settings: Settings, logger: Logger) {
        self.node = node
        self.store = store
        self.catalog = catalog
        self.logger = logger
        deliverer = Deliverer(store: store, http: http, sms: sms, email: email, settings: settings, logger: logger)
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                // A long backlog (a node that joined late, or a register of millions) must not
                // hold up a shutdown: each pass of up to 32 blocks checks it.
                while !Task.isCancelled, !Task.isShuttingDownGracefully, try await dispatch() {}
                try await deliverer.deliverDue()
            } catch is CancellationError {
                return
            } catch {
                logger.error("delivery pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: deliverer.settings.poll)
        }
    }

    /// Puts the next decided blocks' events in the outbox; false when there were none.
    @discardableResult
    public func dispatch() async throws -> Bool {
        let after = try store.dispatchedHeight()
        let webhooks = try store.webhooks()
        // Nobody to tell: the cursor moves to the chain's height without reading its blocks (a
        // subscription or a person's consent counts from when it is made, never before).
        if webhooks.isEmpty, try !store.hasContacts() {
            let height = await node.status().height.rawValue
            guard height > after else { return false }
            try store.enqueue([], through: height, at: Node.wallClock())
            return false
        }
        let blocks = try await node.blocks(from: Height(after + 1), limit: 32)
        guard let last = blocks.last else { return false }
        var items: [OutboxItem] = []
        var contacts: [PartyID: Contact?] = [:]
        for (block, _, receipts) in blocks {
            for event in FeedEvent.of(block, receipts: receipts, chainID: node.genesis.chainID) {
                for webhook in webhooks where webhook.matches(event) {
                    items.append(OutboxItem(channel: .webhook, target: webhook.id, eventID: event.id, body: event.webhookBody()))
                }
                for party in event.event.parties {
                    if contacts[party] == nil { contacts[party] = .some(try store.contact(of: party)) }
                    // A person hears of what happened from their consent on, never of what came before.
                    guard let contact = contacts[party] ?? nil, contact.receives, event.height >= contact.fromHeight ?? 0 else { continue }
                    let (subject, text) = catalog.render(event, language: contact.language)
                    if deliverer.sms != nil, let phone = contact.phone {
                        items.append(OutboxItem(channel: .sms, target: party.rawValue, eventID: event.id, body: Self.message(phone, subject, text)))
                    }
                    if deliverer.email != nil, let address = contact.email {
                        items.append(OutboxItem(channel: .email, target: party.rawValue, eventID: event.id, body: Self.message(address, subject, text)))
                    }
                }
            }
        }
        try store.enqueue(items, through: last.block.header.height.rawValue, at: Node.wallClock())
        return true
    }

    static func message(_ to: String, _ subject: String, _ text: String) -> [UInt8] {
        Array((try? JSONEncoder().encode(Deliverer.Message(to: to, subject: subject, text: text))) ?? Data())
    }
}

/// Sends what is due in the outbox: each target's next message, on its own task, retrying a
/// failure after `retryBase`, doubling up to `retryMax`, and giving up after `attemptsMax`.
public struct Deliverer: Sendable {
    let store: IntegrationStore
    let http: HTTPClient
    let sms: (any MessageSender)?
    let email: (any MessageSender)?
    let settings: DeliveryService.Settings
    let logger: Logger

    public init(store: IntegrationStore, http: HTTPClient, sms: (any MessageSender)?, email: (any MessageSender)?,
                settings: DeliveryService.Settings, logger: Logger) {
        self.store = store
        self.http = http
        self.sms = sms
        self.email = email
        self.settings = settings
        self.logger = logger
    }

    struct Message: Codable {
        let to: String
        let subject: String
        let text: String
    }

    /// Sends every target's next due message, each target on its own task, and records the
    /// outcomes in one transaction; returns how many were tried.
    ///
    /// A target's task sends up to `batchPerTarget` of its messages one after another, stopping at
    /// the first failure. A crash before the outcomes are recorded sends them again (with the same
    /// ids): deliveries are at least once, never lost.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let heads = try store.due(at: Node.wallClock(), limit: 64)
        let queues = try heads.map { head in
            try store.entries(channel: head.channel, target: head.target, after: head.seq - 1, limit: Self.batchPerTarget).filter { $0.state == .pending }
        }
        let outcomes = await withTaskGroup(of: [(seq: Int64, attempt: IntegrationStore.Attempt)].self) { group in
            for queue in queues {
                group.addTask {
                    var done: [(seq: Int64, attempt: IntegrationStore.Attempt)] = []
                    for entry in queue {
                        let outcome = await attempt(entry)
                        done.append((entry.seq, outcome))
                        guard case .delivered = outcome else { break }
                    }
                    return done
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        try store.record(outcomes)
        return outcomes.count
    }

    /// How many of one target's messages one pass sends, in order.
    static let batchPerTarget = 16

    func attempt(_ entry: OutboxEntry) async -> IntegrationStore.Attempt {
        do {
            switch entry.channel {
            case .webhook:
                // A subscription removed after its messages were queued has nothing more to send.
                guard let webhook = try store.webhook(entry.target) else { return .failed(error: "the subscription was removed", retryAt: nil) }
                try await send(entry, to: webhook)
            case .sms, .email:
                guard let sender = entry.channel == .sms ? sms : email else { throw DeliveryFailure("no \(entry.channel.rawValue) provider is configured") }
                // Consent is checked again when sending: an opt-out stops what was already queued.
                guard let party = try? PartyID(entry.target), let contact = try store.contact(of: party), contact.receives else {
                    return .failed(error: "the person opted out", retryAt: nil)
                }
                let message = try JSONDecoder().decode(Message.self, from: Data(entry.body))
                try await sender.send(to: message.to, subject: message.subject, text: message.text)
            }
            return .delivered(at: Node.wallClock())
        } catch {
            let attempts = entry.attempts + 1
            let retryAt = attempts >= settings.attemptsMax ? nil : Timestamp(rawValue: Node.wallClock().rawValue + Self.millis(retryDelay(afterAttempts: attempts)))
            logger.notice("delivery attempt failed", metadata: ["channel": "\(entry.channel.rawValue)", "target": "\(entry.target)",
                                                                "event": "\(entry.eventID)", "attempts": "\(attempts)", "error": "\(error)"])
            return .failed(error: "\(error)", retryAt: retryAt)
        }
    }

    /// base, 2·base, 4·base, … at most `retryMax`.
    func retryDelay(afterAttempts attempts: Int) -> Duration {
        let factor = Int64(1) << Int64(min(max(attempts - 1, 0), 30))
        return min(settings.retryBase * factor, settings.retryMax)
    }

    static func millis(_ duration: Duration) -> UInt64 {
        let parts = duration.components
        return UInt64(max(0, parts.seconds * 1_000 + parts.attoseconds / 1_000_000_000_000_000))
    }

    func send(_ entry: OutboxEntry, to webhook: Webhook) async throws {
        do { try WebhookAddress.check(webhook.url, allowPrivate: settings.allowPrivateAddresses) } catch { throw DeliveryFailure(error.description) }
        let timestamp = Int64(Date().timeIntervalSince1970)
        guard let signature = StandardWebhooks.signature(id: entry.eventID, timestamp: timestamp, body: entry.body, secret: webhook.secret) else {
            throw DeliveryFailure("the subscription's secret is unreadable")
        }
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "tamga-webhooks")
        request.headers.add(name: "webhook-id", value: entry.eventID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: signature)
        request.body = .bytes(ByteBuffer(bytes: entry.body))
        let response = try await http.execute(request, timeout: .seconds(15))
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(response.status.code) else { throw DeliveryFailure("the receiver answered \(response.status.code)") }
    }
}
