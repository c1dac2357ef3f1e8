import Foundation
import GRDB
public import TamgaCore
import TamgaLedger

/// A webhook subscription: the events one party may see, of some kinds, sent to one URL.
public struct Webhook: Sendable, Equatable, Codable {
    public let id: String
    public let party: PartyID
    public let url: String
    /// `whsec_` and the base64 of the 32-byte HMAC key (Standard Webhooks).
    public let secret: String
    /// Event kinds (`pledge.registered`) or families (`pledge.*`); empty for every kind.
    public let kinds: [String]
    /// Only events about this property, when set.
    public let property: CadastralNumber?
    /// Every event on the chain, not only those naming the party (registrars and courts only).
    public let allParties: Bool
    /// Events of blocks from this height on (the height after the subscription was made).
    public let fromHeight: UInt64
    public let createdAt: Timestamp

    public init(id: String, party: PartyID, url: String, secret: String, kinds: [String], property: CadastralNumber?,
                allParties: Bool, fromHeight: UInt64, createdAt: Timestamp) {
        self.id = id
        self.party = party
        self.url = url
        self.secret = secret
        self.kinds = kinds
        self.property = property
        self.allParties = allParties
        self.fromHeight = fromHeight
        self.createdAt = createdAt
    }

    public func matches(_ event: FeedEvent) -> Bool {
        guard event.height >= fromHeight else { return false }
        guard allParties || event.event.parties.contains(party) else { return false }
        if let property, !event.event.properties.contains(property) { return false }
        return kinds.isEmpty || kinds.contains { kind in
            kind.hasSuffix(".*") ? event.event.kind.hasPrefix(kind.dropLast()) : kind == event.event.kind
        }
    }
}

/// How a person is told: kept by the node of the registrar who enrolled them, never on chain.
public struct Contact: Sendable, Equatable, Codable {
    public let party: PartyID
    public var phone: String?
    public var email: String?
    /// `kk`, `ru` or `en`: the language of the messages.
    public var language: String
    /// When the person agreed to be told (as the registrar recorded it).
    public var consentAt: Timestamp
    /// When the person asked to be told no more; nothing is sent after it.
    public var optedOutAt: Timestamp?
    /// The registrar who recorded the details and the consent.
    public var recordedBy: PartyID
    /// Messages are about events of blocks from this height on: the block after the consent.
    public var fromHeight: UInt64?

    public init(party: PartyID, phone: String?, email: String?, language: String, consentAt: Timestamp, optedOutAt: Timestamp?,
                recordedBy: PartyID, fromHeight: UInt64?) {
        self.party = party
        self.phone = phone
        self.email = email
        self.language = language
        self.consentAt = consentAt
        self.optedOutAt = optedOutAt
        self.recordedBy = recordedBy
        self.fromHeight = fromHeight
    }

    public var receives: Bool { optedOutAt == nil }
}

/// One message waiting in (or delivered from) the outbox.
public struct OutboxEntry: Sendable, Equatable {
    public enum Channel: String, Sendable { case webhook, sms, email }
    public enum State: String, Sendable, Codable { case pending, delivered, failed }

    public let seq: Int64
    public let channel: Channel
    /// The webhook's id, or the party a message is for.
    public let target: String
    public let eventID: String
    public let body: [UInt8]
    public let state: State
    public let attempts: Int
    public let nextAttemptAt: Timestamp
    public let lastError: String?
    public let deliveredAt: Timestamp?
}

/// What to put in the outbox: a message for one target about one event.
public struct OutboxItem: Sendable, Equatable {
    public let channel: OutboxEntry.Channel
    public let target: String
    public let eventID: String
    public let body: [UInt8]

    public init(channel: OutboxEntry.Channel, target: String, eventID: String, body: [UInt8]) {
        self.channel = channel
        self.target = target
        self.eventID = eventID
        self.body = body
    }
}

/// The node's integration database (`integrations.sqlite` in its folder): webhook
/// subscriptions, people's contact details and consent, and the durable outbox with the height
/// up to which the chain's events are in it. Writes are durable when they return (WAL, full sync).
public final class IntegrationStore: Sendable {
    private let database: DatabasePool

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        database = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                CREATE TABLE webhooks (id TEXT PRIMARY KEY, party TEXT NOT NULL, body BLOB NOT NULL);
                CREATE INDEX webhooks_party ON webhooks (party);
                CREATE TABLE contacts (party TEXT PRIMARY KEY, body BLOB NOT NULL);
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, target TEXT NOT NULL, event_id TEXT NOT NULL,
                    body BLOB NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,
                    last_error TEXT, delivered_at INTEGER, UNIQUE (channel, target, event_id));
                CREATE INDEX outbox_queue ON outbox (channel, target, state, seq);
                CREATE INDEX outbox_pending ON outbox (state, next_attempt) WHERE state = 'pending';
                """)
        }
        try migrator.migrate(database)
    }

    // MARK: Webhooks

    public func addWebhook(_ webhook: Webhook) throws {
        let body = try JSONEncoder().encode(webhook)
        try database.write { db in
            try db.execute(sql: "INSERT INTO webhooks (id, party, body) VALUES (?, ?, ?)", arguments: [webhook.id, webhook.party.rawValue, body])
        }
    }

    public func webhooks(of party: PartyID? = nil) throws -> [Webhook] {
        let rows = try database.read { db in
            if let party { return try Data.fetchAll(db, sql: "SELECT body FROM webhooks WHERE party = ? ORDER BY rowid", arguments: [party.rawValue]) }
            return try Data.fetchAll(db, sql: "SELECT body FROM webhooks ORDER BY rowid")
        }
        return try rows.map { try JSONDecoder().decode(Webhook.self, from: $0) }
    }

    public func webhook(_ id: String) throws -> Webhook? {
        try database.read { db in try Data.fetchOne(db, sql: "SELECT body FROM webhooks WHERE id = ?", arguments: [id]) }
            .map { try JSONDecoder().decode(Webhook.self, from: $0) }
    }

    /// Removes a subscription and what it still had to deliver.
    public func removeWebhook(_ id: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE channel = 'webhook' AND target = ? AND state = 'pending'", arguments: [id])
            try db.execute(sql: "DELETE FROM webhooks WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    // MARK: Contacts

    /// Records details a registrar took down, keeping the person's opt-out if they gave one (read
    /// and written in one transaction, so an opt-out made meanwhile is not lost). Returns what is kept.
    public func recordContact(_ contact: Contact) throws -> Contact {
        try database.write { db in
            var kept = contact
            if let body = try Data.fetchOne(db, sql: "SELECT body FROM contacts WHERE party = ?", arguments: [contact.party.rawValue]) {
                kept.optedOutAt = try JSONDecoder().decode(Contact.self, from: body).optedOutAt
            }
            try Self.write(kept, db)
            return kept
        }
    }

    /// Changes a person's details in one transaction; nil when there are none.
    public func changeContact(of party: PartyID, _ change: (inout Contact) -> Void) throws -> Contact? {
        try database.write { db in
            guard let body = try Data.fetchOne(db, sql: "SELECT body FROM contacts WHERE party = ?", arguments: [party.rawValue]) else { return nil }
            var contact = try JSONDecoder().decode(Contact.self, from: body)
            change(&contact)
            try Self.write(contact, db)
            return contact
        }
    }

    private static func write(_ contact: Contact, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO contacts (party, body) VALUES (?, ?)", arguments: [contact.party.rawValue, try JSONEncoder().encode(contact)])
    }

    /// Forgets a person's contact details; returns whether there were any. Messages already in
    /// the outbox for them are not sent (the sender reads the details when it sends).
    @discardableResult
    public func removeContact(of party: PartyID) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM contacts WHERE party = ?", arguments: [party.rawValue])
            return db.changesCount > 0
        }
    }

    /// Whether any person's contact details are recorded.
    public func hasContacts() throws -> Bool {
        try database.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM contacts)") } ?? false
    }

    public func contact(of party: PartyID) throws -> Contact? {
        try database.read { db in try Data.fetchOne(db, sql: "SELECT body FROM contacts WHERE party = ?", arguments: [party.rawValue]) }
            .map { try JSONDecoder().decode(Contact.self, from: $0) }
    }

    // MARK: Outbox

    /// The last height whose events are in the outbox (0 before the first block).
    public func dispatchedHeight() throws -> UInt64 {
        try database.read { db in try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'dispatched'") }.map { UInt64($0) } ?? 0
    }

    /// Puts the messages of the blocks through `height` in the outbox and moves the cursor, in
    /// one transaction: each event is put in once, whatever stops the node when.
    public func enqueue(_ items: [OutboxItem], through height: UInt64, at time: Timestamp) throws {
        try database.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO outbox (channel, target, event_id, body, state, next_attempt) VALUES (?, ?, ?, ?, 'pending', ?)
                """)
            for item in items {
                try insert.execute(arguments: [item.channel.rawValue, item.target, item.eventID, Data(item.body), Int64(time.rawValue)])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('dispatched', ?)", arguments: [Int64(height)])
        }
    }

    /// The next message of each target that is due: a target's messages go one at a time, in order.
    public func due(at time: Timestamp, limit: Int) throws -> [OutboxEntry] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT o.* FROM (SELECT MIN(seq) AS head FROM outbox WHERE state = 'pending' GROUP BY channel, target) h
                JOIN outbox o ON o.seq = h.head WHERE o.next_attempt <= ? ORDER BY o.seq LIMIT ?
                """, arguments: [Int64(time.rawValue), limit])
        }.map(Self.entry)
    }

    /// What became of one attempt.
    public enum Attempt: Sendable, Equatable {
        case delivered(at: Timestamp)
        /// Tried again at `retryAt`, or given up on when it is nil.
        case failed(error: String, retryAt: Timestamp?)
    }

    /// Records attempts, all in one transaction.
    public func record(_ attempts: [(seq: Int64, attempt: Attempt)]) throws {
        try database.write { db in
            for (seq, attempt) in attempts {
                switch attempt {
                case let .delivered(time):
                    try db.execute(sql: "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE seq = ?",
                                   arguments: [Int64(time.rawValue), seq])
                case let .failed(error, retryAt):
                    try db.execute(sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ?, state = ?, next_attempt = ? WHERE seq = ?",
                                   arguments: [String(error.prefix(500)), retryAt == nil ? "failed" : "pending", Int64(retryAt?.rawValue ?? 0), seq])
                }
            }
        }
    }

    public func markDelivered(_ seq: Int64, at time: Timestamp) throws { try record([(seq, .delivered(at: time))]) }

    /// Records a failed attempt: tried again at `retryAt`, or given up on when it is nil.
    public func markAttemptFailed(_ seq: Int64, error: String, retryAt: Timestamp?) throws {
        try record([(seq, .failed(error: error, retryAt: retryAt))])
    }

    /// A target's messages after `seq`, oldest first.
    public func entries(channel: OutboxEntry.Channel, target: String, after seq: Int64, limit: Int) throws -> [OutboxEntry] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE channel = ? AND target = ? AND seq > ? ORDER BY seq LIMIT ?",
                             arguments: [channel.rawValue, target, seq, limit])
        }.map(Self.entry)
    }

    /// Sends a webhook's messages from `seq` on again (same ids, so receivers can tell); returns how many.
    public func replay(webhook id: String, from seq: Int64, at time: Timestamp) throws -> Int {
        try database.write { db in
            try db.execute(sql: """
                UPDATE outbox SET state = 'pending', attempts = 0, next_attempt = ?, last_error = NULL, delivered_at = NULL
                WHERE channel = 'webhook' AND target = ? AND seq >= ?
                """, arguments: [Int64(time.rawValue), id, seq])
            return db.changesCount
        }
    }

    public func counts() throws -> [OutboxEntry.State: Int] {
        let rows = try database.read { db in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM outbox GROUP BY state") }
        var counts: [OutboxEntry.State: Int] = [:]
        for row in rows { if let state = OutboxEntry.State(rawValue: row["state"]) { counts[state] = row["n"] } }
        return counts
    }

    private static func entry(_ row: Row) -> OutboxEntry {
        OutboxEntry(seq: row["seq"], channel: OutboxEntry.Channel(rawValue: row["channel"]) ?? .webhook, target: row["target"],
                    eventID: row["event_id"], body: [UInt8](row["body"] as Data), state: OutboxEntry.State(rawValue: row["state"]) ?? .pending,
                    attempts: row["attempts"], nextAttemptAt: Timestamp(rawValue: UInt64(max(0, row["next_attempt"] as Int64))),
                    lastError: row["last_error"], deliveredAt: (row["delivered_at"] as Int64?).map { Timestamp(rawValue: UInt64($0)) })
    }
}
