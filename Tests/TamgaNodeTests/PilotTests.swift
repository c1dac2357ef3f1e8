import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import TamgaCore
import TamgaIntegrations
import TamgaLedger
import TamgaNode
import Testing

/// A throwaway PostgreSQL server on loopback (scripts/postgres.sh), for as long as a test runs.
struct TestPostgres {
    let directory: URL
    let url: String

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/postgres.sh")
    }

    static func start() async throws -> TestPostgres {
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("tamga-pg-\(UUID().uuidString.prefix(8))")
        let port = freePorts(1)[0]
        let (status, output) = try await run(["start", directory.path, String(port)])
        guard status == 0, let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            throw TestFailure("cannot start PostgreSQL (exit \(status)): \(output)")
        }
        return TestPostgres(directory: directory, url: url)
    }

    func stop() async {
        _ = try? await Self.run(["stop", directory.path])
        try? FileManager.default.removeItem(at: directory)
    }

    static func run(_ arguments: [String]) async throws -> (Int32, String) {
        try await offThePool {
            // The output goes to a file, not a pipe: the server inherits the descriptor and keeps it
            // open, so a pipe would never reach its end.
            let log = URL(fileURLWithPath: "/tmp/tamga-pg-\(UUID().uuidString.prefix(8)).out")
            defer { try? FileManager.default.removeItem(at: log) }
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            defer { try? handle.close() }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [script.path] + arguments
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            process.waitUntilExit()
            return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }
    }

    /// Runs `body` with a client connected to the server.
    func withClient<T: Sendable>(_ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try RegisterProjector.configuration(url: url), backgroundLogger: quietLogger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await client.run(); return nil }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}

/// An institution's webhook endpoint: checks each delivery's Standard Webhooks signature and
/// keeps what arrived, in arrival order. It can refuse its first delivery, to make the node retry.
actor WebhookReceiver {
    struct Delivery: Sendable {
        let id: String
        let payload: WebhookPayload
        let signatureValid: Bool
    }

    private(set) var deliveries: [Delivery] = []
    private(set) var refused = 0
    var secret = ""
    let refuseFirst: Bool
    let port = freePorts(1)[0]
    var url: String { "http://127.0.0.1:\(port)/hook" }

    init(refuseFirst: Bool) { self.refuseFirst = refuseFirst }

    func setSecret(_ secret: String) { self.secret = secret }

    func receive(id: String, timestamp: String, signature: String, body: [UInt8]) -> HTTPResponse.Status {
        if refuseFirst, refused == 0 {
            refused += 1
            return .serviceUnavailable
        }
        let valid = StandardWebhooks.verify(id: id, timestamp: timestamp, signatures: signature, body: body, secret: secret,
                                            now: Int64(Date().timeIntervalSince1970))
        guard let payload = try? JSONDecoder().decode(WebhookPayload.self, from: Data(body)) else { return .badRequest }
        deliveries.append(Delivery(id: id, payload: payload, signatureValid: valid))
        return .noContent
    }

    /// The distinct event ids received, in order of first arrival.
    var eventIDs: [String] {
        var seen = Set<String>()
        return deliveries.map(\.id).filter { seen.insert($0).inserted }
    }

    nonisolated func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            let header = { (name: String) in request.headers[HTTPField.Name(name)!] ?? "" }
            let status = await self.receive(id: header("webhook-id"), timestamp: header("webhook-timestamp"),
                                            signature: header("webhook-signature"), body: Array(body.readableBytesView))
            return Response(status: status)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: quietLogger)
    }
}

extension ProcessNetwork {
    /// One HTTP exchange with node `index`: the status and the raw body.
    func call(_ index: Int, _ method: HTTPMethod, _ path: String, token: String? = nil, contentType: String = "application/json",
              body: [UInt8]? = nil) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: urls[index] + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .seconds(40))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (Int(response.status.code), Array(bytes.readableBytesView))
    }

    func json(_ index: Int, _ method: HTTPMethod, _ path: String, token: String? = nil, _ body: [String: Any]? = nil) async throws -> (status: Int, json: [String: Any]) {
        let reply = try await call(index, method, path, token: token, body: try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) })
        return (reply.status, (try? JSONSerialization.jsonObject(with: Data(reply.body))) as? [String: Any] ?? [:])
    }

    /// Signs node `index`'s challenge with the party's key and returns the session token.
    func session(_ party: String, at index: Int) async throws -> String {
        let challenge = try await json(index, .POST, "/v1/auth/challenge", [:]).json
        let text = try #require(challenge["signText"] as? String)
        let key = try network.key(of: party)
        let reply = try await json(index, .POST, "/v1/auth/session", [
            "party": party, "keyId": key.publicKey.keyID.description, "challenge": try #require(challenge["challenge"] as? String),
            "signature": Hex.encode(key.sign(Array(text.utf8)).bytes),
        ])
        return try #require(reply.json["token"] as? String, "no session for \(party): \(reply.json)")
    }
}

@Suite("The pledge pilot, end to end", .serialized)
struct PilotTests {
    @Test("a bank's pledge with documents, webhooks, SMS, the certificate and the PostgreSQL register, across a node's kill -9")
    func pledgePilot() async throws {
        let postgres = try await TestPostgres.start()
        let bank = WebhookReceiver(refuseFirst: true)
        let cadastre = WebhookReceiver(refuseFirst: false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await bank.application().runService() }
            group.addTask { try await cadastre.application().runService() }
            defer { group.cancelAll() }
            let cluster = try ProcessNetwork(validators: 4) { index, config in
                config.delivery = NodeConfig.Delivery(webhookPrivateAddresses: true, retryBaseMillis: 200,
                                                      sms: .init(provider: "file", file: "sms.jsonl"), email: .init(provider: "file", file: "email.jsonl"))
                if index == 0 { config.register = .init(postgres: postgres.url) }
            }
            defer { cluster.network.remove() }
            do {
                try await run(cluster, bank: bank, cadastre: cadastre, postgres: postgres)
            } catch {
                _ = try? await cluster.shutdown()
                await postgres.stop()
                throw error
            }
            let statuses = try await cluster.shutdown()
            #expect(statuses.allSatisfy { $0 == 0 }, "every node stops cleanly: \(statuses)")
            await postgres.stop()
        }
    }

    private func run(_ cluster: ProcessNetwork, bank: WebhookReceiver, cadastre: WebhookReceiver, postgres: TestPostgres) async throws {
        for index in 0..<4 { try await cluster.waitUntilServing(index) }
        let property = "03-003-003-1"
        _ = try await cluster.tx(node: 0, keys: ["registrar-1"], party: "registrar-1",
                                 ["register-property", "--property", property, "--kind", "apartment", "--address", "Almaty, pilot street 1",
                                  "--area", "8450", "--owner", "citizen-4", "--title-hash", Hash.sha256(Array("title".utf8)).hex])

        // The registrar who enrolled the person records their phone and e-mail, with consent.
        let registrar = try await cluster.session("registrar-1", at: 0)
        let contact = try await cluster.json(0, .PUT, "/v1/parties/citizen-4/contact", token: registrar,
                                             ["phone": "+77010000004", "email": "citizen-4@example.kz", "language": "ru", "consent": true])
        #expect(contact.status == 200, "\(contact.json)")
        let unconsented = try await cluster.json(0, .PUT, "/v1/parties/citizen-5/contact", token: registrar, ["phone": "+77010000005", "consent": false])
        #expect(unconsented.json["code"] as? String == "contact.no_consent")
        let citizenSession = try await cluster.session("citizen-5", at: 0)
        let notRegistrar = try await cluster.json(0, .PUT, "/v1/parties/citizen-4/contact", token: citizenSession, ["phone": "+77010000009", "consent": true])
        #expect(notRegistrar.status == 403)

        // The bank subscribes on node 0 to its pledges; the cadastre (an authority taking every
        // event of one kind) on node 1.
        let bankSession = try await cluster.session("bank-1", at: 0)
        let bankHook = try await cluster.json(0, .POST, "/v1/parties/bank-1/webhooks", token: bankSession, ["url": await bank.url, "kinds": ["pledge.*"]])
        #expect(bankHook.status == 201, "\(bankHook.json)")
        await bank.setSecret(try #require(bankHook.json["secret"] as? String))
        let bankHookID = try #require(bankHook.json["id"] as? String)
        let wide = try await cluster.json(0, .POST, "/v1/parties/bank-1/webhooks", token: bankSession, ["url": await bank.url, "allParties": true])
        #expect(wide.status == 403, "a bank may not take every event of the chain")
        let cadastreSession = try await cluster.session("registrar-2", at: 1)
        let cadastreHook = try await cluster.json(1, .POST, "/v1/parties/registrar-2/webhooks", token: cadastreSession,
                                                  ["url": await cadastre.url, "kinds": ["pledge.registered"], "allParties": true])
        #expect(cadastreHook.status == 201, "\(cadastreHook.json)")
        await cadastre.setSecret(try #require(cadastreHook.json["secret"] as? String))

        // The bank uploads the signed contract and the scanned title to node 0.
        let contract = Array("%PDF-1.4\n% pledge contract for \(property)\n%%EOF\n".utf8)
        let scan = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array("scanned title document".utf8)
        var hashes: [String] = []
        for (bytes, type) in [(contract, "application/pdf"), (scan, "image/png")] {
            let upload = try await cluster.call(0, .POST, "/v1/documents", token: bankSession, contentType: type, body: bytes)
            #expect(upload.status == 201)
            let hash = try #require((try JSONSerialization.jsonObject(with: Data(upload.body)) as? [String: Any])?["hash"] as? String)
            #expect(hash == Hash.sha256(bytes).hex)
            hashes.append(hash)
        }
        let cited = hashes
        let disguised = try await cluster.call(0, .POST, "/v1/documents", token: bankSession, contentType: "application/pdf", body: scan)
        #expect(disguised.status == 415, "a PNG declared as a PDF is refused")

        let pledge = try await cluster.tx(node: 0, keys: ["bank-1"], party: "bank-1",
                                          ["pledge-propose", "--property", property, "--loan", "2500000000", "--document", hashes[0], "--document", hashes[1]])
        // The bank's receiver refused the first delivery; the node tries again.
        try await waitFor("the bank's receiver gets pledge.proposed") { await bank.eventIDs.count >= 1 }

        // Node 0 (which delivers to the bank and feeds the register) dies; the owner signs meanwhile.
        try await cluster.kill9(0)
        _ = try await cluster.tx(node: 1, keys: ["citizen-4"], party: "citizen-4", ["pledge-sign", "--pledge", pledge.id])
        try cluster.launch(0)
        try await cluster.waitUntilServing(0)

        // The registrar at node 2 opens the documents (node 2 got them from its peers) and registers.
        let reviewer = try await cluster.session("registrar-1", at: 2)
        for (hash, bytes) in zip(hashes, [contract, scan]) {
            var read = try await cluster.call(2, .GET, "/v1/documents/\(hash)", token: reviewer)
            let deadline = ContinuousClock.now + .seconds(30)
            while read.status == 503, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                read = try await cluster.call(2, .GET, "/v1/documents/\(hash)", token: reviewer)
            }
            #expect(read.status == 200 && read.body == bytes, "the registrar reads document \(hash) on node 2: \(read.status)")
        }
        let stranger = try await cluster.call(2, .GET, "/v1/documents/\(hashes[0])", token: try await cluster.session("citizen-6", at: 2))
        #expect(stranger.status == 403, "a citizen who is no party to the pledge cannot read its documents")
        let owner = try await cluster.call(3, .GET, "/v1/documents/\(hashes[1])", token: try await cluster.session("citizen-4", at: 3))
        #expect(owner.status == 200 && owner.body == scan, "the owner reads the documents cited on their property")
        _ = try await cluster.tx(node: 2, keys: ["registrar-1"], party: "registrar-1", ["pledge-register", "--pledge", pledge.id])

        // Webhooks: each event once or more with the same id, in chain order, signed; none lost across the kill.
        try await waitFor("the bank's receiver gets all three pledge events") { await bank.eventIDs.count >= 3 }
        try await waitFor("the cadastre's receiver gets pledge.registered") { await cadastre.eventIDs.count >= 1 }
        let bankDeliveries = await bank.deliveries
        #expect(bankDeliveries.allSatisfy { $0.signatureValid }, "every delivery to the bank carries a valid signature")
        #expect(await bank.refused == 1)
        let kinds = await bank.eventIDs.compactMap { id in bankDeliveries.first { $0.id == id }?.payload.type }
        #expect(kinds == ["pledge.proposed", "pledge.signed", "pledge.registered"], "\(kinds)")
        let order = await bank.eventIDs.map { $0.split(separator: "_").dropFirst().compactMap { Int($0) } }
        #expect(order == order.sorted { $0.lexicographicallyPrecedes($1) }, "events arrive in chain order: \(order)")
        let cadastreDeliveries = await cadastre.deliveries
        #expect(cadastreDeliveries.allSatisfy { $0.signatureValid } && cadastreDeliveries.first?.payload.type == "pledge.registered")
        #expect(cadastreDeliveries.first?.id == bankDeliveries.last?.id, "the event id is the same from every node")

        // The bank sees its deliveries' status, and can have them sent again.
        let status = try await cluster.json(0, .GET, "/v1/parties/bank-1/webhooks/\(bankHookID)/deliveries", token: try await cluster.session("bank-1", at: 0))
        let items = status.json["items"] as? [[String: Any]] ?? []
        #expect(items.count == 3 && items.allSatisfy { $0["state"] as? String == "delivered" }, "\(status.json)")
        #expect(items.first?["attempts"] as? Int == 2, "the refused delivery was retried")

        // The applicant's SMS and e-mail.
        let smsFile = cluster.network.homes[0].url.appendingPathComponent("sms.jsonl")
        // The person consented after the property was registered: they hear of the three pledge events.
        let emailFile = cluster.network.homes[0].url.appendingPathComponent("email.jsonl")
        try await waitFor("the SMS and e-mail sinks get the registration") {
            [smsFile, emailFile].allSatisfy { ((try? String(contentsOf: $0, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= 3 }
        }
        let messages = try String(contentsOf: smsFile, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(messages.count == 3 && messages.allSatisfy { $0["to"] == "+77010000004" }, "\(messages)")
        let emails = try String(contentsOf: emailFile, encoding: .utf8).split(separator: "\n")
        #expect(emails.count == 3 && emails.allSatisfy { $0.contains("citizen-4@example.kz") })
        #expect(messages.contains { $0["text"]?.contains(property) == true }, "\(messages)")

        // The certificate, with its check code, and the extract it names.
        let certificate = try await cluster.call(0, .GET, "/v1/pledges/\(pledge.id)/certificate", token: try await cluster.session("bank-1", at: 0))
        let page = String(decoding: certificate.body, as: UTF8.self)
        #expect(certificate.status == 200 && page.contains("Certificate of pledge registration") && page.contains("bank-1"))
        let code = try #require(page.range(of: #"Check code: <code>([0-9a-f]{64})"#, options: .regularExpression).map { String(page[$0].suffix(64)) })
        #expect(try await cluster.call(0, .GET, "/v1/extracts/\(code)").status == 200)

        // The Real Estate Register in PostgreSQL shows the pledge, and agrees with the node record by record.
        let height = try #require(await cluster.height(0))
        try await postgres.withClient { client in
            try await waitFor("the register reaches height \(height)") {
                let rows = try? await client.query("SELECT height FROM tamga_checkpoint").collect()
                return (try? rows?.first?.decode(Int64.self)).flatMap { $0 }.map { $0 >= Int64(height) } ?? false
            }
            let mortgage = try await client.query("SELECT status, bank, loan_amount_tiyn::text, documents FROM la_mortgage WHERE pledge_id = \(pledge.id)").collect()
            let (state, holder, loan, documents) = try #require(mortgage.first).decode((String, String, String, [String]).self)
            #expect(state == "registered" && holder == "bank-1" && loan == "2500000000" && documents == cited)
            let restrictions = try await client.query("SELECT kind, holder FROM la_restriction WHERE cadastral_number = \(property)").collect()
            #expect(try restrictions.map { try $0.decode((String, String).self) }.map { "\($0.0):\($0.1)" } == ["pledge:bank-1"])
            let history = try await client.query("SELECT count(*) FROM tamga_history WHERE \(property) = ANY(properties)").collect()
            #expect(try history.first?.decode(Int64.self) ?? 0 >= 4, "register, propose, sign and register are in the history")
            let sources = try await client.query("SELECT count(*) FROM la_administrative_source WHERE record = \("property/" + property)").collect()
            #expect(try sources.first?.decode(Int64.self) == 3, "the title and the two pledge documents")

            // Record by record: every property's owners and shares, and every party's balance, as the node reads them.
            let reader = try await cluster.session("registrar-1", at: 1)
            var checked = 0
            for row in try await client.query("SELECT cadastral_number, party_id, share_numerator::text, share_denominator::text FROM la_right").collect() {
                let (number, party, numerator, denominator) = try row.decode((String, String, String, String).self)
                let passport = try await cluster.json(1, .GET, "/v1/properties/\(number)", token: reader).json
                let owners = passport["owners"] as? [[String: Any]] ?? []
                let share = owners.first { $0["party"] as? String == party }?["share"] as? String
                #expect(share == (denominator == "1" ? numerator : "\(numerator)/\(denominator)"), "\(number) \(party): \(share ?? "none")")
            }
            // The parties the pilot moved (every genesis party is in the register; reading each one's
            // account with a session of its own would run into the node's budget of challenges).
            for row in try await client.query("SELECT party_id, balance_tiyn::text FROM la_party WHERE party_id IN ('citizen-4', 'bank-1', 'registrar-1') ORDER BY 1").collect() {
                let (party, balance) = try row.decode((String, String).self)
                let account = try await cluster.json(1, .GET, "/v1/parties/\(party)/account", token: try await cluster.session(party, at: 1)).json
                #expect((account["balance"] as? NSNumber)?.stringValue == balance, "\(party)'s balance")
                checked += 1
            }
            #expect(checked == 3)
        }
    }

    func waitFor(_ what: String, seconds: Int = 60, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
