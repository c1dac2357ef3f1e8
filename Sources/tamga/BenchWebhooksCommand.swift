import ArgumentParser
import AsyncHTTPClient
import Foundation
import Histogram
import Hummingbird
import Logging
import TamgaCore
import TamgaIntegrations
import TamgaLedger
import TamgaNode

extension BenchCommand {
    /// Webhook delivery from a node's outbox: signing, POSTing to a local receiver that checks
    /// each signature, and recording each delivery durably.
    struct Webhooks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver webhooks from a durable outbox to a receiver on loopback and report deliveries per second."
        )

        @Option(help: "Events in the outbox.")
        var events = 5_000

        @Option(help: "Subscriptions (each receives every event, in order).")
        var subscriptions = 20

        @Option(help: "The receiver's port on 127.0.0.1.")
        var port = 18_999

        func validate() throws {
            guard events > 0, subscriptions > 0 else { throw ValidationError("--events and --subscriptions must be positive") }
        }

        func run() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-bench-webhooks-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try IntegrationStore(path: directory.appendingPathComponent("integrations.sqlite").path)
            let secret = StandardWebhooks.newSecret()
            let received = Received(secret: secret)
            let router = Router()
            router.post("/hook") { request, _ -> Response in
                var request = request
                let body = try await request.collectBody(upTo: 1 << 20)
                let valid = await received.check(id: request.headers[.init("webhook-id")!] ?? "", timestamp: request.headers[.init("webhook-timestamp")!] ?? "",
                                                 signature: request.headers[.init("webhook-signature")!] ?? "", body: Array(body.readableBytesView))
                return Response(status: valid ? .noContent : .unauthorized)
            }
            var quiet = Logger(label: "tamga.bench")
            quiet.logLevel = .critical
            let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: quiet)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await receiver.runService() }
                defer { group.cancelAll() }
                try await Task.sleep(for: .milliseconds(300))
                let chain = try ChainID("tamga-bench")
                for index in 0..<subscriptions {
                    try store.addWebhook(Webhook(id: "wh_\(index)", party: try PartyID("bank-\(index + 1)"), url: "http://127.0.0.1:\(port)/hook",
                                                 secret: secret, kinds: [], property: nil, allParties: true, fromHeight: 1, createdAt: Node.wallClock()))
                }
                let sample = try JSONDecoder().decode(LedgerEvent.self, from: Data(#"{"kind": "pledge.registered", "parties": ["bank-1", "citizen-1"], "properties": ["01-001-001-1"], "amount": 2500000000}"#.utf8))
                var items: [OutboxItem] = []
                for event in 0..<events {
                    let feed = FeedEvent(chainID: chain, height: UInt64(event / 10 + 1), position: event % 10, seq: 0, blockTime: Node.wallClock(),
                                         transaction: TransactionID(hash: .sha256(Array("tx \(event)".utf8))),
                                         event: sample)
                    for index in 0..<subscriptions {
                        items.append(OutboxItem(channel: .webhook, target: "wh_\(index)", eventID: feed.id, body: feed.webhookBody()))
                    }
                }
                let enqueueStarted = ContinuousClock.now
                try store.enqueue(items, through: UInt64(events / 10 + 1), at: Node.wallClock())
                let enqueueSeconds = seconds(since: enqueueStarted)
                print("outbox: \(items.count) messages (\(events) events × \(subscriptions) subscriptions) written in \(format(enqueueSeconds)) s "
                      + "(\(Int(Double(items.count) / enqueueSeconds))/s, one transaction)")

                var settings = DeliveryService.Settings()
                settings.retryBase = .milliseconds(100)
                settings.allowPrivateAddresses = true
                let deliverer = Deliverer(store: store, http: HTTPClient.shared, sms: nil, email: nil, settings: settings, logger: quiet)
                let started = ContinuousClock.now
                // Until every message is delivered (a refused one is tried again after 100 ms), or a minute.
                while try (store.counts()[.pending] ?? 0) > 0, started.duration(to: .now) < .seconds(60) {
                    if try await deliverer.deliverDue() == 0 { try await Task.sleep(for: .milliseconds(10)) }
                }
                let elapsed = seconds(since: started)
                let counts = try store.counts()
                if let failure = try store.entries(channel: .webhook, target: "wh_0", after: 0, limit: 1).first?.lastError { print("last error: \(failure)") }
                let (valid, invalid) = await received.counts
                print("delivered \(counts[.delivered] ?? 0) of \(items.count) in \(format(elapsed)) s: \(Int(Double(counts[.delivered] ?? 0) / elapsed)) deliveries/s "
                      + "(\(subscriptions) receivers in parallel, each in order; signatures valid: \(valid), invalid: \(invalid); pending: \(counts[.pending] ?? 0))")
            }
        }

        private func seconds(since start: ContinuousClock.Instant) -> Double {
            let parts = start.duration(to: .now).components
            return max(0.000_001, Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
        }

        private func format(_ value: Double) -> String { String(format: "%.2f", value) }
    }
}

/// What the benchmark's receiver saw.
private actor Received {
    let secret: String
    private var valid = 0
    private var invalid = 0

    init(secret: String) { self.secret = secret }

    func check(id: String, timestamp: String, signature: String, body: [UInt8]) -> Bool {
        let ok = StandardWebhooks.verify(id: id, timestamp: timestamp, signatures: signature, body: body, secret: secret, now: Int64(Date().timeIntervalSince1970))
        if ok { valid += 1 } else { invalid += 1 }
        return ok
    }

    var counts: (Int, Int) { (valid, invalid) }
}
