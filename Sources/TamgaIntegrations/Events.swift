import Crypto
import Foundation
public import TamgaConsensus
public import TamgaCore
public import TamgaLedger

/// A ledger event with where it happened: the unit every webhook and message is about.
public struct FeedEvent: Sendable, Equatable {
    public let chainID: ChainID
    public let height: UInt64
    /// The transaction's place in its block, and the event's place in the transaction's events.
    public let position: Int
    public let seq: Int
    public let blockTime: Timestamp
    public let transaction: TransactionID
    public let event: LedgerEvent

    public init(chainID: ChainID, height: UInt64, position: Int, seq: Int, blockTime: Timestamp, transaction: TransactionID, event: LedgerEvent) {
        self.chainID = chainID
        self.height = height
        self.position = position
        self.seq = seq
        self.blockTime = blockTime
        self.transaction = transaction
        self.event = event
    }

    /// Stable across retries, replays and nodes of one chain: `evt_<height>_<position>_<seq>`.
    public var id: String { "evt_\(height)_\(position)_\(seq)" }

    /// The events of a decided block, in order.
    public static func of(_ block: Block, receipts: [Receipt], chainID: ChainID) -> [FeedEvent] {
        receipts.enumerated().flatMap { position, receipt in
            receipt.events.enumerated().map { seq, event in
                FeedEvent(chainID: chainID, height: block.header.height.rawValue, position: position, seq: seq,
                          blockTime: block.header.time, transaction: receipt.transaction, event: event)
            }
        }
    }

    /// The webhook payload, in the Standard Webhooks shape: `{"type", "timestamp", "data"}`.
    /// Keys are sorted; receivers verify the signature over these exact bytes.
    public func webhookBody() -> [UInt8] {
        let body = WebhookPayload(
            type: event.kind, timestamp: Self.iso8601(blockTime),
            data: .init(id: id, chainId: chainID.rawValue, height: height, transaction: transaction.description, kind: event.kind,
                        parties: event.parties.map(\.rawValue), properties: event.properties.map(\.rawValue),
                        deed: event.deed?.description, amount: event.amount?.rawValue))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(body)) ?? Data())
    }

    static func iso8601(_ time: Timestamp) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(time.rawValue) / 1_000))
    }
}

/// What a webhook receiver gets (docs/integrations.md).
public struct WebhookPayload: Codable, Sendable, Equatable {
    public struct Data: Codable, Sendable, Equatable {
        public let id: String
        public let chainId: String
        public let height: UInt64
        public let transaction: String
        public let kind: String
        public let parties: [String]
        public let properties: [String]
        public let deed: String?
        public let amount: UInt64?
    }

    public let type: String
    public let timestamp: String
    public let data: Data
}

/// Signatures by the Standard Webhooks convention (standardwebhooks.com): the headers
/// `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the
/// base64 HMAC-SHA256 of `id.timestamp.body` under the secret's key).
public enum StandardWebhooks {
    /// `whsec_` and 32 random bytes in base64.
    public static func newSecret() -> String {
        "whsec_" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    }

    static func key(_ secret: String) -> SymmetricKey? {
        guard secret.hasPrefix("whsec_"), let bytes = Data(base64Encoded: String(secret.dropFirst(6))), !bytes.isEmpty else { return nil }
        return SymmetricKey(data: bytes)
    }

    /// The `webhook-signature` header's value.
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secret: String) -> String? {
        guard let key = key(secret) else { return nil }
        let content = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: content, using: key)).base64EncodedString()
    }

    /// Whether any signature in the header is right and the timestamp within `tolerance` seconds of `now`.
    public static func verify(id: String, timestamp: String, signatures header: String, body: [UInt8], secret: String,
                              now: Int64, tolerance: Int64 = 300) -> Bool {
        guard let time = Int64(timestamp), abs(now - time) <= tolerance, let key = key(secret) else { return false }
        let content = Array("\(id).\(time).".utf8) + body
        return header.split(separator: " ").contains { candidate in
            guard candidate.hasPrefix("v1,"), let mac = Data(base64Encoded: String(candidate.dropFirst(3))) else { return false }
            return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: content, using: key)
        }
    }
}

/// Where a webhook may be sent. Unless private addresses are allowed, a URL naming the node's
/// own machine or a private network (by name or by address literal) is refused.
public enum WebhookAddress {
    public struct Refused: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public static func check(_ text: String, allowPrivate: Bool) throws(Refused) {
        guard text.utf8.count <= 2_048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = url.host?.lowercased(), !host.isEmpty
        else { throw Refused(description: "a webhook URL is an http or https URL with a host, at most 2,048 bytes") }
        guard url.user == nil, url.password == nil else { throw Refused(description: "a webhook URL carries no credentials") }
        if allowPrivate { return }
        if isPrivate(host) { throw Refused(description: "\(host) is this machine or a private network; this node sends webhooks to public addresses only") }
    }

    static func isPrivate(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" || bare.hasSuffix(".localhost") || bare.hasSuffix(".local") || bare.hasSuffix(".internal") { return true }
        let parts = bare.split(separator: ".").compactMap { UInt8($0) }
        if parts.count == 4 {
            switch (parts[0], parts[1]) {
            case (0, _), (10, _), (127, _), (169, 254), (192, 168): return true
            case (172, 16...31), (100, 64...127): return true
            default: return false
            }
        }
        if bare.contains(":") {
            return bare == "::1" || bare == "::" || bare.hasPrefix("fc") || bare.hasPrefix("fd") || bare.hasPrefix("fe80") || bare.hasPrefix("::ffff:")
        }
        // A single-label name resolves through the machine's search domains, and an integer host
        // (http://2130706433/) is an address: neither is a public name.
        return !bare.contains(".") || bare.split(separator: ".").allSatisfy { $0.allSatisfy(\.isNumber) || $0.lowercased().hasPrefix("0x") }
    }
}
