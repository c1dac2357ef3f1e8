import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import PostgresNIO
import TamgaAPI
import TamgaConsensus
import TamgaCore
import TamgaIntegrations
import TamgaLedger
import TamgaNode
import TamgaStorage
import Testing

@Suite("Webhooks, messages and the outbox")
struct DeliveryTests {
    @Test("signatures follow the Standard Webhooks test vector; a changed body, id, secret or old timestamp fails")
    func standardWebhooksVector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let signature = StandardWebhooks.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body, secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let header = "v1,bm9ub3RoaXM= " + (signature ?? "")
        #expect(StandardWebhooks.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signatures: header, body: body, secret: secret, now: 1_614_265_330))
        #expect(!StandardWebhooks.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signatures: header, body: body + [32], secret: secret, now: 1_614_265_330))
        #expect(!StandardWebhooks.verify(id: "msg_other", timestamp: "1614265330", signatures: header, body: body, secret: secret, now: 1_614_265_330))
        #expect(!StandardWebhooks.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signatures: header, body: body,
                                         secret: StandardWebhooks.newSecret(), now: 1_614_265_330))
        #expect(!StandardWebhooks.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", signatures: header, body: body, secret: secret, now: 1_614_265_330 + 301))
        #expect(StandardWebhooks.signature(id: "x", timestamp: 1, body: [], secret: "not a secret") == nil)
    }

    @Test("webhooks go to public addresses only, unless the node allows private ones")
    func webhookAddresses() {
        for url in ["http://127.0.0.1/x", "http://localhost:8080/", "https://10.1.2.3/", "http://192.168.0.1/", "http://169.254.169.254/latest",
                    "http://[::1]/", "http://2130706433/", "http://intranet/", "http://user:pass@bank.kz/", "ftp://bank.kz/", "bank.kz", "http://172.20.0.1/"] {
            #expect(throws: WebhookAddress.Refused.self, "\(url)") { try WebhookAddress.check(url, allowPrivate: false) }
        }
        for url in ["https://hooks.bank.kz/tamga", "http://203.0.113.7:8443/in", "https://172.32.0.1/"] {
            #expect(throws: Never.self, "\(url)") { try WebhookAddress.check(url, allowPrivate: false) }
        }
        #expect(throws: Never.self) { try WebhookAddress.check("http://127.0.0.1:9000/hook", allowPrivate: true) }
    }

    @Test("the outbox: each event once, a target's messages one at a time in order, retries, give-up and replay")
    func outboxSemantics() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-outbox-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try IntegrationStore(path: directory.appendingPathComponent("i.sqlite").path)
        let now = Timestamp(rawValue: 1_000)
        let items = (1...3).map { OutboxItem(channel: .webhook, target: "wh_a", eventID: "evt_\($0)_0_0", body: [UInt8($0)]) }
            + [OutboxItem(channel: .webhook, target: "wh_b", eventID: "evt_1_0_0", body: [9])]
        try store.enqueue(items, through: 3, at: now)
        try store.enqueue(items, through: 3, at: now)
        #expect(try store.dispatchedHeight() == 3)
        #expect(try store.counts()[.pending] == 4, "enqueuing the same events again adds nothing")

        var due = try store.due(at: now, limit: 10)
        #expect(due.map { "\($0.target):\($0.eventID)" } == ["wh_a:evt_1_0_0", "wh_b:evt_1_0_0"], "one message per target, the oldest")
        let first = try #require(due.first)
        try store.markAttemptFailed(first.seq, error: "receiver down", retryAt: Timestamp(rawValue: 5_000))
        due = try store.due(at: Timestamp(rawValue: 2_000), limit: 10)
        #expect(due.map(\.target) == ["wh_b"], "a failed head waits for its retry and holds back its target's later messages")
        due = try store.due(at: Timestamp(rawValue: 5_000), limit: 10)
        #expect(due.first { $0.target == "wh_a" }?.attempts == 1)
        try store.markDelivered(first.seq, at: Timestamp(rawValue: 5_000))
        let second = try #require(try store.due(at: Timestamp(rawValue: 5_000), limit: 10).first { $0.target == "wh_a" })
        #expect(second.eventID == "evt_2_0_0")
        try store.markAttemptFailed(second.seq, error: "gone", retryAt: nil)
        #expect(try store.due(at: Timestamp(rawValue: 5_000), limit: 10).first { $0.target == "wh_a" }?.eventID == "evt_3_0_0",
                "a message given up on lets the next one go")

        let states = try store.entries(channel: .webhook, target: "wh_a", after: 0, limit: 10).map(\.state)
        #expect(states == [.delivered, .failed, .pending])
        #expect(try store.replay(webhook: "wh_a", from: first.seq, at: Timestamp(rawValue: 6_000)) == 3)
        #expect(try store.entries(channel: .webhook, target: "wh_a", after: 0, limit: 10).allSatisfy { $0.state == .pending && $0.attempts == 0 })
    }

    @Test("e-mail through an SMTP relay: the conversation, the headers, and a relay that refuses")
    func smtp() async throws {
        let relay = try await FakeSMTPRelay.start()
        let mailer = SMTPMailer(host: "127.0.0.1", port: relay.port, from: "registry@tamga.kz", credentials: ("tamga", "secret"))
        try await mailer.send(to: "citizen-4@example.kz", subject: "Tamga: Залог зарегистрирован", text: "Залог на 03-003-003-1 зарегистрирован.")
        let session = await relay.transcript()
        #expect(session.contains("MAIL FROM:<registry@tamga.kz>") && session.contains("RCPT TO:<citizen-4@example.kz>"))
        #expect(session.contains("AUTH PLAIN " + Data("\u{0}tamga\u{0}secret".utf8).base64EncodedString()))
        #expect(session.contains("Subject: =?UTF-8?B?\(Data("Tamga: Залог зарегистрирован".utf8).base64EncodedString())?="))
        #expect(session.replacingOccurrences(of: "\n", with: "").contains(Data("Залог на 03-003-003-1 зарегистрирован.".utf8).base64EncodedString()))
        await #expect(throws: DeliveryFailure.self) {
            try await mailer.send(to: "refused@example.kz", subject: "s", text: "t")
        }
        await #expect(throws: DeliveryFailure.self, "a header cannot be injected through the address") {
            try await mailer.send(to: "a@b.kz>\r\nRCPT TO:<c@d.kz", subject: "s", text: "t")
        }
        try await relay.stop()
    }

    @Test("SMS through an HTTP gateway: the request it documents, its token, and a gateway that refuses")
    func smsGateway() async throws {
        let gateway = FakeSMSGateway()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await gateway.application().runService() }
            defer { group.cancelAll() }
            let sender = HTTPSMSSender(client: HTTPClient.shared, url: "http://127.0.0.1:\(gateway.port)/v1/messages", sender: "Tamga", token: "secret-token")
            var delivered = false
            for _ in 0..<100 where !delivered {
                // The gateway may still be binding its port.
                do {
                    try await sender.send(to: "+77010000004", subject: "", text: "Tamga: Pledge registered on 01-001-001-4.")
                    delivered = true
                } catch {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(delivered)
            let received = await gateway.received
            #expect(received.count == 1)
            #expect(received.first?.authorization == "Bearer secret-token")
            #expect(received.first?.body == ["to": "+77010000004", "from": "Tamga", "text": "Tamga: Pledge registered on 01-001-001-4."])
            // A refusal is a failure, so the outbox tries again later.
            await gateway.refuse()
            await #expect(throws: DeliveryFailure.self) { try await sender.send(to: "+77010000004", subject: "", text: "again") }
        }
    }

    @Test("messages follow consent: queued for a consenting person, withheld once they opt out")
    func consent() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let sink = fixture.network.directory.appendingPathComponent("sms.jsonl")
        let service = DeliveryService(node: fixture.node, store: fixture.integrations, http: HTTPClient.shared,
                                      sms: FileSink(path: sink.path, channel: "sms"), email: nil,
                                      catalog: MessageCatalog(labels: PortalFiles.eventLabels()), settings: .init(), logger: quietLogger)
        try await fixture.test { client in
            let registrar = try await fixture.session("registrar-1", client: client)
            let citizen = try await fixture.session("citizen-1", client: client)
            for (body, expected) in [(#"{"phone": "87010000001", "consent": true}"#, "contact.bad_phone"), (#"{"email": "a@b", "consent": true}"#, "contact.bad_email"),
                                     (#"{"phone": "+77010000001", "language": "de", "consent": true}"#, "contact.bad_language"), (#"{"consent": true}"#, "contact.empty")] {
                let reply = try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .put, headers: bearer(registrar), body: ByteBuffer(string: body)) { $0 }
                #expect(code(reply) == expected, "\(body)")
            }
            let byCitizen = try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .put, headers: bearer(citizen),
                                                     body: ByteBuffer(string: #"{"phone": "+77010000001", "consent": true}"#)) { $0 }
            #expect(byCitizen.status == .forbidden, "only a registrar records contact details")
            let recorded = try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .put, headers: bearer(registrar),
                                                    body: ByteBuffer(string: #"{"phone": "+77010000001", "language": "kk", "consent": true}"#)) { $0 }
            #expect(recorded.status == .ok)
            let other = try await fixture.session("citizen-2", client: client)
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .get, headers: bearer(other)) { $0 }.status == .forbidden)

            // What happened before the consent is not told; a transfer after it is.
            let signer = try TestSigner("citizen-1", in: fixture.network)
            let transfer = try signer.sign(.transfer(Transfer(to: try PartyID("citizen-2"), amount: Tiyn(500))), nonce: 2)
            _ = try #require(try await fixture.node.waitForCommit(try await fixture.node.submit(transfer), timeout: commitTimeout))
            while try await service.dispatch() {}
            let queued = try fixture.integrations.entries(channel: .sms, target: "citizen-1", after: 0, limit: 50)
            #expect(!queued.isEmpty && queued.allSatisfy { $0.eventID.hasPrefix("evt_") })
            #expect(queued.allSatisfy { String(decoding: $0.body, as: UTF8.self).contains("+77010000001") })
            #expect(queued.count == 1, "only the transfer, not the property's registration or its access code: \(queued.map(\.eventID))")
            let optOut = try await client.execute(uri: "/v1/parties/citizen-1/contact/opt-out", method: .post, headers: bearer(citizen)) { $0 }
            #expect(optOut.status == .ok)
            while try await service.deliverer.deliverDue() > 0 {}
            let after = try fixture.integrations.entries(channel: .sms, target: "citizen-1", after: 0, limit: 50)
            #expect(after.allSatisfy { $0.state == .failed && $0.lastError == "the person opted out" }, "\(after.map(\.lastError))")
            #expect(!FileManager.default.fileExists(atPath: sink.path), "nothing was sent after the opt-out")

            // A registrar's new record keeps the person's opt-out; only the person takes it back.
            let again = try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .put, headers: bearer(registrar),
                                                 body: ByteBuffer(string: #"{"phone": "+77010000009", "consent": true}"#)) { try json($0) }
            #expect(again["optedOutAt"] != nil && again["phone"] as? String == "+77010000009")
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/contact/opt-in", method: .post, headers: bearer(registrar)) { $0 }.status == .forbidden)
            let optedIn = try await client.execute(uri: "/v1/parties/citizen-1/contact/opt-in", method: .post, headers: bearer(citizen)) { try json($0) }
            #expect(optedIn["optedOutAt"] == nil)
            #expect(try fixture.integrations.contact(of: try PartyID("citizen-1"))?.receives == true)
            // The person has their details forgotten; neither a stranger nor a registrar can (a
            // registrar's deletion and new record would undo an opt-out).
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .delete, headers: bearer(other)) { $0 }.status == .forbidden)
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .delete, headers: bearer(registrar)) { $0 }.status == .forbidden)
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .delete, headers: bearer(citizen)) { $0 }.status == .noContent)
            #expect(try fixture.integrations.contact(of: try PartyID("citizen-1")) == nil)
            #expect(code(try await client.execute(uri: "/v1/parties/citizen-1/contact", method: .delete, headers: bearer(citizen)) { $0 }) == "contact.unknown")
        }
    }

    @Test("a person enrolled on chain has their contact details recorded by the registrar who enrolled them")
    func enrollingRegistrar() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let newcomer = SigningKey()
        let registrar = try TestSigner("registrar-1", in: fixture.network, after: try await fixture.node.party(try PartyID("registrar-1"))?.nonce ?? 0)
        let enroll = try registrar.sign(.enroll(Enroll(party: try PartyID("citizen-77"), publicKey: newcomer.publicKey,
                                                        identityCommitment: .sha256(Array("iin".utf8)), name: "Citizen 77")), cosigners: [newcomer])
        try await fixture.commit(enroll)
        try await fixture.test { client in
            let body = #"{"email": "citizen77@example.kz", "language": "ru", "consent": true}"#
            let second = try await fixture.session("registrar-2", client: client)
            let refused = try await client.execute(uri: "/v1/parties/citizen-77/contact", method: .put, headers: bearer(second), body: ByteBuffer(string: body)) { $0 }
            #expect(refused.status == .forbidden && code(refused) == "contact.not_the_enrolling_registrar")
            let first = try await fixture.session("registrar-1", client: client)
            let recorded = try await client.execute(uri: "/v1/parties/citizen-77/contact", method: .put, headers: bearer(first), body: ByteBuffer(string: body)) { try json($0) }
            #expect(recorded["recordedBy"] as? String == "registrar-1")
            // A party of genesis was enrolled by nobody on chain: any registrar records it.
            let genesisParty = try await client.execute(uri: "/v1/parties/citizen-3/contact", method: .put, headers: bearer(second), body: ByteBuffer(string: body)) { $0 }
            #expect(genesisParty.status == .ok)
        }
    }

    @Test("a subscription to one property gets that property's events only; its deliveries are listed and replayed with their ids, by its party alone")
    func propertyFilterAndReplay() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let node = fixture.node
        let service = DeliveryService(node: node, store: fixture.integrations, http: HTTPClient.shared, sms: nil, email: nil,
                                      catalog: MessageCatalog(labels: PortalFiles.eventLabels()), settings: .init(), logger: quietLogger)
        let registrar = try TestSigner("registrar-1", in: fixture.network, after: try await node.party(try PartyID("registrar-1"))?.nonce ?? 0)
        let bank = try TestSigner("bank-1", in: fixture.network)
        try await fixture.test { client in
            let token = try await fixture.session("bank-1", client: client)
            let made = try await client.execute(uri: "/v1/parties/bank-1/webhooks", method: .post, headers: bearer(token),
                                                body: ByteBuffer(string: #"{"url": "https://hooks.bank.example.kz/tamga", "kinds": ["pledge.*"], "property": "\#(fixture.property)"}"#)) { try json($0) }
            let id = try #require(made["id"] as? String)
            // Pledges on the subscribed property and on another one.
            try await fixture.commit(try registrar.sign(.registerProperty(RegisterProperty(
                cadastralNumber: try CadastralNumber("01-001-001-2"), kind: "apartment", address: "Astana, test street 2", area: AreaHundredths(5_000),
                location: nil, owners: [Ownership(party: try PartyID("citizen-2"), share: .whole)], titleDocumentHash: .sha256(Array("title 2".utf8))))))
            for number in ["01-001-001-2", fixture.property] {
                try await fixture.commit(try bank.sign(.proposePledge(ProposePledge(cadastralNumber: try CadastralNumber(number), loanAmount: Tiyn(1_000_000),
                                                                             documents: [.sha256(Array("loan \(number)".utf8))]))))
            }
            while try await service.dispatch() {}
            let page = try await client.execute(uri: "/v1/parties/bank-1/webhooks/\(id)/deliveries", method: .get, headers: bearer(token)) { try json($0) }
            let items = page["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1, "only the subscribed property's pledge: \(items)")
            let seq = try #require(items.first?["seq"] as? Int)
            let eventID = try #require(items.first?["eventId"] as? String)

            // Delivered, then asked for again: the same message with the same id is pending anew.
            try fixture.integrations.markDelivered(Int64(seq), at: Node.wallClock())
            let other = try await fixture.session("citizen-1", client: client)
            let replayBody = ByteBuffer(string: #"{"from": \#(seq)}"#)
            #expect(try await client.execute(uri: "/v1/parties/bank-1/webhooks/\(id)/replay", method: .post, headers: bearer(other), body: replayBody) { $0 }.status == .forbidden)
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/webhooks/\(id)/replay", method: .post, headers: bearer(other), body: replayBody) { $0 }.status == .notFound)
            let replayed = try await client.execute(uri: "/v1/parties/bank-1/webhooks/\(id)/replay", method: .post, headers: bearer(token), body: replayBody) { try json($0) }
            #expect(replayed["requeued"] as? Int == 1)
            let after = try fixture.integrations.entries(channel: .webhook, target: id, after: 0, limit: 10)
            #expect(after.map(\.eventID) == [eventID] && after.allSatisfy { $0.state == .pending && $0.attempts == 0 })
        }
    }

    @Test("webhook subscriptions: own session only, public URLs, known kinds, whole-chain for registrars and courts")
    func subscriptions() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test { client in
            let citizen = try await fixture.session("citizen-1", client: client)
            let registrar = try await fixture.session("registrar-1", client: client)
            func subscribe(_ party: String, _ token: String, _ body: String) async throws -> TestResponse {
                try await client.execute(uri: "/v1/parties/\(party)/webhooks", method: .post, headers: bearer(token), body: ByteBuffer(string: body)) { $0 }
            }
            for url in ["ftp://hooks.example.kz/x", "https://user:secret@hooks.example.kz/x", "hooks.example.kz"] {
                #expect(code(try await subscribe("citizen-1", citizen, #"{"url": "\#(url)"}"#)) == "webhook.bad_url", "\(url)")
            }
            #expect(code(try await subscribe("citizen-1", citizen, #"{"url": "https://hooks.example.kz/x", "kinds": ["Pledge!"]}"#)) == "webhook.bad_kinds")
            #expect(try await subscribe("citizen-1", citizen, #"{"url": "https://hooks.example.kz/x", "allParties": true}"#).status == .forbidden)
            #expect(try await subscribe("citizen-2", citizen, #"{"url": "https://hooks.example.kz/x"}"#).status == .forbidden)
            let made = try await subscribe("registrar-1", registrar, #"{"url": "https://hooks.example.kz/x", "kinds": ["pledge.*"], "allParties": true}"#)
            #expect(made.status == .created)
            let body = try json(made)
            #expect((body["secret"] as? String)?.hasPrefix("whsec_") == true)
            let listed = try await client.execute(uri: "/v1/parties/registrar-1/webhooks", method: .get, headers: bearer(registrar)) { $0 }
            #expect(String(buffer: listed.body).contains("hooks.example.kz") && !String(buffer: listed.body).contains("whsec_"), "the secret is shown once")
            let id = try #require(body["id"] as? String)
            #expect(try await client.execute(uri: "/v1/parties/citizen-1/webhooks/\(id)", method: .delete, headers: bearer(citizen)) { $0 }.status == .notFound)
            #expect(try await client.execute(uri: "/v1/parties/registrar-1/webhooks/\(id)", method: .delete, headers: bearer(registrar)) { $0 }.status == .noContent)
        }
    }
}

@Suite("Source documents through the API")
struct DocumentAPITests {
    @Test("upload by type and size; read by the uploader, owners and authorities only; a cited document no node has is reported")
    func documents() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test { client in
            let citizen = try await fixture.session("citizen-1", client: client)
            let stranger = try await fixture.session("citizen-2", client: client)
            let registrar = try await fixture.session("registrar-1", client: client)
            func upload(_ bytes: [UInt8], _ type: String, token: String?) async throws -> TestResponse {
                var headers: HTTPFields = token.map(bearer) ?? [:]
                headers[.contentType] = type
                return try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: ByteBuffer(bytes: bytes)) { $0 }
            }
            let pdf = Array("%PDF-1.7\nsale contract\n%%EOF".utf8)
            #expect(try await upload(pdf, "application/pdf", token: nil).status == .unauthorized)
            #expect(code(try await upload(pdf, "image/png", token: citizen)) == "document.bad_type")
            #expect(code(try await upload(Array("<html><script>".utf8), "text/html", token: citizen)) == "document.bad_type")
            #expect(code(try await upload([], "application/pdf", token: citizen)) == "document.empty")
            #expect(try await upload(Array("%PDF-".utf8) + [UInt8](repeating: 0, count: Limits.documentBytesMax), "application/pdf", token: citizen).status == .contentTooLarge)
            let made = try await upload(pdf, "application/pdf; charset=binary", token: citizen)
            #expect(made.status == .created)
            let hash = Hash.sha256(pdf).hex
            #expect(try json(made)["hash"] as? String == hash)

            let read = try await client.execute(uri: "/v1/documents/\(hash)", method: .get, headers: bearer(citizen)) { $0 }
            #expect(read.status == .ok && Array(read.body.readableBytesView) == pdf)
            #expect(read.headers[.contentDisposition]?.hasPrefix("attachment") == true && read.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
            #expect(try await client.execute(uri: "/v1/documents/\(hash)", method: .get, headers: bearer(stranger)) { $0 }.status == .forbidden)
            // Not cited yet, it belongs to no record: not even an authority reads it.
            #expect(try await client.execute(uri: "/v1/documents/\(hash)", method: .get, headers: bearer(registrar)) { $0 }.status == .forbidden)
            #expect(try await client.execute(uri: "/v1/documents/\(hash)", method: .get) { $0 }.status == .unauthorized)

            // Cited as the loan agreement of a deed the owner proposes: the authorities, the
            // buyer and the financing bank read it (parties to the deed, though they signed
            // nothing yet); someone else still does not.
            let owner = try TestSigner("citizen-1", in: fixture.network, after: try await fixture.node.party(try PartyID("citizen-1"))?.nonce ?? 0)
            let proposal = try owner.sign(.proposeDeed(ProposeDeed(
                cadastralNumber: try CadastralNumber(fixture.property), sellers: [Deed.Seller(party: try PartyID("citizen-1"), share: .whole)],
                buyers: [Deed.Buyer(party: try PartyID("citizen-2"), share: .whole, pays: Tiyn(1_000_000))],
                financing: Deed.Financing(bank: try PartyID("bank-1"), amount: Tiyn(4_000_000), documentHash: try #require(Hash(hex: hash))))))
            try await fixture.commit(proposal)
            let bank = try await fixture.session("bank-1", client: client)
            let outsider = try await fixture.session("citizen-3", client: client)
            for (token, status) in [(registrar, HTTPResponse.Status.ok), (stranger, .ok), (bank, .ok), (outsider, .forbidden)] {
                #expect(try await client.execute(uri: "/v1/documents/\(hash)", method: .get, headers: bearer(token)) { $0 }.status == status)
            }
            // Someone who learned the hash cites it in a deed of their own: that gives them nothing.
            let copycat = try TestSigner("citizen-3", in: fixture.network)
            let recited = try copycat.sign(.proposeDeed(ProposeDeed(
                cadastralNumber: try CadastralNumber(fixture.property), sellers: [Deed.Seller(party: try PartyID("citizen-1"), share: .whole)],
                buyers: [Deed.Buyer(party: try PartyID("citizen-3"), share: .whole, pays: Tiyn(1_000))],
                financing: Deed.Financing(bank: try PartyID("bank-1"), amount: Tiyn(1), documentHash: try #require(Hash(hex: hash))), paymentBank: try PartyID("bank-1"))))
            try await fixture.commit(recited)
            #expect(try await client.execute(uri: "/v1/documents/\(hash)", method: .get, headers: bearer(outsider)) { $0 }.status == .forbidden)
            #expect(code(try await client.execute(uri: "/v1/documents/\(Hash.sha256([7]).hex)", method: .get, headers: bearer(citizen)) { $0 }) == "document.unknown")

            // The fixture's property cites a title document nobody uploaded: reported, never faked.
            let title = Hash.sha256(Array("title".utf8)).hex
            #expect(try await client.execute(uri: "/v1/documents/\(title)", method: .get, headers: bearer(outsider)) { $0 }.status == .forbidden)
            let missing = try await client.execute(uri: "/v1/documents/\(title)", method: .get, headers: bearer(citizen)) { $0 }
            #expect(missing.status == .serviceUnavailable && code(missing) == "document.unavailable")
        }
    }
}

@Suite("A registrar's review of pledges")
struct PledgeReviewTests {
    @Test("pledges under review are listed to registrars only, with their documents, until registered or rejected")
    func reviewList() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let node = fixture.node
        let bank = try TestSigner("bank-1", in: fixture.network)
        let owner = try TestSigner("citizen-1", in: fixture.network, after: try await node.party(try PartyID("citizen-1"))?.nonce ?? 0)
        let registrar = try TestSigner("registrar-2", in: fixture.network)
        let number = try CadastralNumber(fixture.property)
        try await fixture.test { client in
            let contract = Array("%PDF-1.4\nloan contract\n%%EOF".utf8)
            var headers = bearer(try await fixture.session("bank-1", client: client))
            headers[.contentType] = "application/pdf"
            #expect(try await client.execute(uri: "/v1/documents", method: .post, headers: headers, body: ByteBuffer(bytes: contract)) { $0 }.status == .created)
            let first = try await fixture.commit(try bank.sign(.proposePledge(ProposePledge(cadastralNumber: number, loanAmount: Tiyn(9_000_000), documents: [.sha256(contract)]))))
            let second = try await fixture.commit(try bank.sign(.proposePledge(ProposePledge(cadastralNumber: number, loanAmount: Tiyn(1_000), documents: [.sha256(contract)]))))

            let reviewer = try await fixture.session("registrar-1", client: client)
            #expect(try await client.execute(uri: "/v1/pledges", method: .get) { $0 }.status == .unauthorized)
            for party in ["citizen-1", "bank-1", "court-1"] {
                #expect(try await client.execute(uri: "/v1/pledges", method: .get, headers: bearer(try await fixture.session(party, client: client))) { $0 }.status == .forbidden, "\(party)")
            }
            #expect(code(try await client.execute(uri: "/v1/pledges?after=x", method: .get, headers: bearer(reviewer)) { $0 }) == "request.bad_cursor")
            func listed(limit: Int = 100, after: String? = nil) async throws -> (ids: [String], statuses: [String], next: String?) {
                let page = try await client.execute(uri: "/v1/pledges?limit=\(limit)" + (after.map { "&after=\($0)" } ?? ""), method: .get, headers: bearer(reviewer)) { try json($0) }
                let items = page["items"] as? [[String: Any]] ?? []
                return (items.compactMap { $0["id"] as? String }, items.compactMap { $0["status"] as? String }, page["next"] as? String)
            }
            let ids = [first.receipt.transaction.description, second.receipt.transaction.description]
            #expect(try await listed().ids == ids)
            // Paged oldest first.
            let page = try await listed(limit: 1)
            #expect(page.ids == [ids[0]])
            #expect(try await listed(limit: 1, after: page.next).ids == [ids[1]])
            // The reviewer opens the contract the proposal cites.
            let document = try await client.execute(uri: "/v1/documents/\(Hash.sha256(contract).hex)", method: .get, headers: bearer(reviewer)) { $0 }
            #expect(document.status == .ok && Array(document.body.readableBytesView) == contract)

            try await fixture.commit(try owner.sign(.signPledge(PledgeReference(pledge: first.receipt.transaction))))
            #expect(try await listed().statuses == ["signed", "proposed"])
            try await fixture.commit(try registrar.sign(.registerPledge(PledgeReference(pledge: first.receipt.transaction))))
            try await fixture.commit(try registrar.sign(.rejectPledge(RejectPledge(pledge: second.receipt.transaction, reason: "the loan is too small to pledge a home"))))
            #expect(try await listed().ids.isEmpty, "registered and rejected pledges leave the list")
            #expect(try NodeStore(path: fixture.network.homes[0].databaseURL.path).pledgeCandidates(after: nil, limit: 10).isEmpty, "and the index")
        }
    }
}

@Suite("The PostgreSQL register", .serialized)
struct RegisterTests {
    @Test("projects a chain exactly once per block, resumes from its checkpoint, rebuilds from genesis, and refuses a source that is not the chain")
    func projection() async throws {
        let postgres = try await TestPostgres.start()
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        do {
            try await postgres.withClient { client in
                let first = try RegisterProjector(client: client, genesis: fixture.node.genesis, logger: quietLogger)
                let written = try await first.catchUp(from: fixture.node)
                #expect(written >= 2)
                let snapshot = try await Self.snapshot(client)
                #expect(snapshot.contains("right 01-001-001-1 citizen-1 1/1"), "\(snapshot)")

                // A second projector on the same database writes nothing twice: only the blocks
                // decided since (empty ones, which change none of the snapshot's rows).
                let projected = await first.projectedHeight
                let again = try RegisterProjector(client: client, genesis: fixture.node.genesis, logger: quietLogger)
                let more = try await again.catchUp(from: fixture.node)
                #expect(await again.projectedHeight == projected + UInt64(more))
                #expect(try await Self.snapshot(client) == snapshot)

                // New blocks continue from the checkpoint.
                let owner = try TestSigner("citizen-1", in: fixture.network)
                let transfer = try owner.sign(.transfer(Transfer(to: try PartyID("citizen-2"), amount: Tiyn(12_345))), nonce: 2)
                _ = try #require(try await fixture.node.waitForCommit(try await fixture.node.submit(transfer), timeout: commitTimeout))
                #expect(try await again.catchUp(from: fixture.node) >= 1)
                let grown = try await Self.snapshot(client)
                #expect(grown.count > snapshot.count)

                // Dropped, the register is rebuilt from genesis to the same rows.
                try await Self.dropAll(client)
                let rebuilt = try RegisterProjector(client: client, genesis: fixture.node.genesis, logger: quietLogger)
                _ = try await rebuilt.catchUp(from: fixture.node)
                #expect(try await Self.snapshot(client) == grown)

                // A source whose block lost a transaction does not lead to the next header's state.
                try await Self.dropAll(client)
                let lying = LyingSource(node: fixture.node)
                let fooled = try RegisterProjector(client: client, genesis: fixture.node.genesis, logger: quietLogger)
                await #expect(throws: RegisterError.self) { try await fooled.catchUp(from: lying) }

                // A source that holds no block before some height (a node that joined by state
                // sync) stops the register with its reason, instead of asking again forever.
                try await Self.dropAll(client)
                let late = try RegisterProjector(client: client, genesis: fixture.node.genesis, logger: quietLogger)
                await #expect(throws: RegisterError.blocksMissing(from: 1, firstHeld: 2)) {
                    try await late.catchUp(from: JoinedLateSource(node: fixture.node))
                }
            }
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
    }

    @Test("after a load of every family, each row equals the node's own read, and the node's records are all there")
    func projectionMatchesTheNodeRecordByRecord() async throws {
        let postgres = try await TestPostgres.start()
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        do {
            let load = try await RegisterLoad.run(on: fixture)
            try await postgres.withClient { client in
                let projector = try RegisterProjector(client: client, genesis: fixture.node.genesis, logger: quietLogger)
                try await projector.catchUp(from: fixture.node)
                // Blocks decided since the load are empty and change no record; catch up once more
                // so the comparison reads the state the node reads.
                try await projector.catchUp(from: fixture.node)
                try await RegisterLoad.compare(client, with: fixture.node, load: load)
                try await RegisterLoad.documentedQueries(client)
            }
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
    }

    static func dropAll(_ client: PostgresClient) async throws {
        for table in ["tamga_checkpoint", "tamga_block", "la_right", "la_restriction", "la_baunit", "la_party", "la_mortgage",
                      "la_administrative_source", "tamga_deed", "tamga_history"] {
            try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE \(table)"))
        }
    }

    /// Every row the register holds, as text, in a fixed order.
    static func snapshot(_ client: PostgresClient) async throws -> [String] {
        var rows: [String] = []
        for row in try await client.query("SELECT cadastral_number, party_id, share_numerator::text, share_denominator::text FROM la_right ORDER BY 1, 2").collect() {
            let (number, party, numerator, denominator) = try row.decode((String, String, String, String).self)
            rows.append("right \(number) \(party) \(numerator)/\(denominator)")
        }
        for row in try await client.query("SELECT party_id, balance_tiyn::text, held_tiyn::text FROM la_party ORDER BY 1").collect() {
            let (party, balance, held) = try row.decode((String, String, String).self)
            rows.append("party \(party) \(balance) \(held)")
        }
        for row in try await client.query("SELECT height, position, seq, kind FROM tamga_history ORDER BY 1, 2, 3").collect() {
            let (height, position, seq, kind) = try row.decode((Int64, Int32, Int32, String).self)
            rows.append("event \(height).\(position).\(seq) \(kind)")
        }
        for row in try await client.query("SELECT document_hash, record FROM la_administrative_source ORDER BY 1, 2").collect() {
            let (hash, record) = try row.decode((String, String).self)
            rows.append("source \(hash) \(record)")
        }
        return rows
    }
}

/// The node's blocks, except that the first one with transactions has lost its last one.
struct LyingSource: BlockSource {
    let node: Node

    func blocks(from height: UInt64, limit: Int) async throws -> [Block] {
        try await node.blocks(from: height, limit: limit).map { block in
            guard !block.transactions.isEmpty, block.header.height.rawValue <= 3 else { return block }
            return Block(header: block.header, transactions: Array(block.transactions.dropLast()), lastCommit: block.lastCommit, evidence: block.evidence)
        }
    }
}

/// The node's blocks from height 2 on, as a node that joined by state sync at block 2 holds them.
struct JoinedLateSource: BlockSource {
    let node: Node

    func blocks(from height: UInt64, limit: Int) async throws -> [Block] {
        try await node.blocks(from: max(height, 2), limit: limit)
    }
}

/// An SMS provider's HTTP gateway as docs/integrations.md describes it: records each request, or refuses.
actor FakeSMSGateway {
    struct Request: Sendable {
        let authorization: String
        let body: [String: String]
    }

    private(set) var received: [Request] = []
    private var refusing = false
    let port = freePorts(1)[0]

    func refuse() { refusing = true }

    func receive(authorization: String, body: [UInt8]) -> HTTPResponse.Status {
        if refusing { return .tooManyRequests }
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: String] else { return .badRequest }
        received.append(Request(authorization: authorization, body: json))
        return .accepted
    }

    nonisolated func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/v1/messages") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 16)
            return Response(status: await self.receive(authorization: request.headers[.authorization] ?? "", body: Array(body.readableBytesView)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: quietLogger)
    }
}

/// A relay that speaks enough SMTP for the mailer, records the conversation, and refuses one recipient.
actor FakeSMTPRelay {
    private var lines: [String] = []
    private let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private var serving: Task<Void, any Error>?
    nonisolated let port: Int

    init(channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, port: Int) {
        self.channel = channel
        self.port = port
    }

    static func start() async throws -> FakeSMTPRelay {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0) { child in
            child.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child) }
        }
        let relay = FakeSMTPRelay(channel: server, port: server.channel.localAddress?.port ?? 0)
        await relay.serve()
        return relay
    }

    func record(_ line: String) { lines.append(line) }
    func transcript() -> String { lines.joined(separator: "\n") }

    private func serve() {
        let channel = channel
        serving = Task {
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    try await connection.executeThenClose { input, output in
                        try await output.write(ByteBuffer(string: "220 relay ready\r\n"))
                        var pending = ""
                        var inData = false
                        for try await var buffer in input {
                            pending += buffer.readString(length: buffer.readableBytes) ?? ""
                            while let end = pending.range(of: "\r\n") {
                                let line = String(pending[..<end.lowerBound])
                                pending.removeSubrange(..<end.upperBound)
                                self.record(line)
                                let reply: String?
                                if inData {
                                    reply = line == "." ? "250 queued" : nil
                                    if line == "." { inData = false }
                                } else if line.hasPrefix("EHLO") {
                                    reply = "250-relay\r\n250 AUTH PLAIN"
                                } else if line.hasPrefix("RCPT TO:<refused@") {
                                    reply = "550 no such mailbox"
                                } else if line == "DATA" {
                                    inData = true
                                    reply = "354 go ahead"
                                } else if line.hasPrefix("AUTH") {
                                    reply = "235 ok"
                                } else if line == "QUIT" {
                                    reply = "221 bye"
                                } else {
                                    reply = "250 ok"
                                }
                                if let reply { try await output.write(ByteBuffer(string: reply + "\r\n")) }
                            }
                        }
                    }
                }
            }
        }
    }

    func stop() async throws {
        serving?.cancel()
        try? await channel.channel.close()
    }
}

/// A load of every transaction family on one node, and the check of the register against the
/// node's reads after it.
struct RegisterLoad {
    var properties: [CadastralNumber] = []
    var deeds: [TransactionID] = []
    var pledges: [TransactionID] = []

    static func run(on fixture: APIFixture) async throws -> RegisterLoad {
        var load = RegisterLoad()
        let network = fixture.network
        let node = fixture.node
        var signers: [String: TestSigner] = [:]
        for name in ["registrar-1", "registrar-2", "bank-1", "court-1"] + (1...10).map({ "citizen-\($0)" }) {
            // Some signed for the fixture already: each goes on from its nonce on chain.
            signers[name] = try TestSigner(name, in: network, after: try await node.party(try PartyID(name))?.nonce ?? 0)
        }
        func signer(_ name: String) throws -> TestSigner { try #require(signers[name], "no signer \(name)") }
        func commit(_ envelopes: [SignedEnvelope]) async throws -> [StoredReceipt] {
            var ids: [TransactionID] = []
            for envelope in envelopes { ids.append(try await node.submit(envelope)) }
            var receipts: [StoredReceipt] = []
            for id in ids { receipts.append(try #require(try await node.waitForCommit(id, timeout: .seconds(60)), "\(id) was dropped")) }
            return receipts
        }
        let fixtureProperty = try CadastralNumber(fixture.property)
        // Twelve properties, some co-owned; then transfers between citizens.
        var batch: [SignedEnvelope] = []
        for index in 1...12 {
            let number = try CadastralNumber("02-00\(index % 3 + 1)-002-\(index)")
            let owners = index % 4 == 0
                ? [Ownership(party: try PartyID("citizen-\(index % 10 + 1)"), share: try Share(1, 3)), Ownership(party: try PartyID("citizen-\((index + 1) % 10 + 1)"), share: try Share(2, 3))]
                : [Ownership(party: try PartyID("citizen-\(index % 10 + 1)"), share: .whole)]
            batch.append(try signer(index % 2 == 0 ? "registrar-1" : "registrar-2").sign(.registerProperty(RegisterProperty(
                cadastralNumber: number, kind: index % 3 == 0 ? "house" : "apartment", address: "Almaty, load street \(index)",
                area: AreaHundredths(UInt64(5_000 + index * 17)), location: nil, owners: owners, titleDocumentHash: .sha256(Array("title \(index)".utf8))))))
            load.properties.append(number)
        }
        for index in 0..<40 {
            batch.append(try signer("citizen-\(index % 9 + 2)").sign(.transfer(Transfer(to: try PartyID("citizen-\(index % 9 + 1)"), amount: Tiyn(UInt64(1_000 + index))))))
        }
        // A transaction refused at execution still pays its fee.
        batch.append(try signer("citizen-5").sign(.buy(Buy(cadastralNumber: fixtureProperty, price: Tiyn(1)))))
        let first = try await commit(batch)
        #expect(first.filter { !$0.receipt.isCommitted }.map(\.receipt.rejectionCode) == ["sale.not_listed"])

        // Deeds: sold in tokens, paid through the bank, left open; a pledge; an arrest.
        let sold = load.properties[0], throughBank = load.properties[2], open = load.properties[4]
        let pledged = load.properties[6], arrested = load.properties[8]
        func owner(_ number: CadastralNumber) async throws -> String { try #require(try await node.passport(number)).owners[0].party.rawValue }
        let proposals = [
            try signer("citizen-9").sign(.proposeDeed(ProposeDeed(cadastralNumber: sold, sellers: [Deed.Seller(party: try PartyID(try await owner(sold)), share: .whole)],
                                                                  buyers: [Deed.Buyer(party: try PartyID("citizen-9"), share: .whole, pays: Tiyn(2_500_000))]))),
            try signer("citizen-8").sign(.proposeDeed(ProposeDeed(cadastralNumber: throughBank, sellers: [Deed.Seller(party: try PartyID(try await owner(throughBank)), share: .whole)],
                                                                  buyers: [Deed.Buyer(party: try PartyID("citizen-8"), share: .whole, pays: Tiyn(90_000_000_000))],
                                                                  paymentBank: try PartyID("bank-1")))),
            try signer("citizen-7").sign(.proposeDeed(ProposeDeed(cadastralNumber: open, sellers: [Deed.Seller(party: try PartyID(try await owner(open)), share: .whole)],
                                                                  buyers: [Deed.Buyer(party: try PartyID("citizen-7"), share: .whole, pays: Tiyn(700_000))]))),
            try signer("bank-1").sign(.proposePledge(ProposePledge(cadastralNumber: pledged, loanAmount: Tiyn(5_000_000), documents: [.sha256(Array("loan".utf8))]))),
            try signer("court-1").sign(.imposeArrest(ImposeArrest(cadastralNumber: arrested, orderHash: .sha256(Array("order".utf8))))),
        ]
        let second = try await commit(proposals)
        #expect(second.allSatisfy { $0.receipt.isCommitted }, "\(second.map(\.receipt))")
        load.deeds = Array(second.prefix(3).map(\.receipt.transaction))
        load.pledges = [second[3].receipt.transaction]

        var signatures: [SignedEnvelope] = []
        for id in load.deeds.prefix(2) {
            let deed = try #require(try await node.deed(id))
            signatures.append(try signer(deed.sellers[0].party.rawValue).sign(.signDeed(SignDeed(deed: id, termsHash: deed.termsHash))))
        }
        signatures.append(try signer(try await owner(pledged)).sign(.signPledge(PledgeReference(pledge: load.pledges[0]))))
        _ = try await commit(signatures)
        let paid = try #require(try await node.deed(load.deeds[1]))
        let last = try await commit([
            try signer("bank-1").sign(.confirmPayment(ConfirmPayment(deed: paid.id, termsHash: paid.termsHash, paymentOrderHash: .sha256(Array("paid".utf8))))),
            try signer("registrar-2").sign(.registerPledge(PledgeReference(pledge: load.pledges[0]))),
        ])
        #expect(last.allSatisfy { $0.receipt.isCommitted }, "\(last.map(\.receipt))")
        for id in load.deeds.prefix(2) { #expect(try await node.deed(id)?.status == .settled) }
        load.properties.append(fixtureProperty)
        return load
    }

    /// Runs every query of docs/integrations.md's "questions a ministry asks" and checks the
    /// answers to the load's pledge and sales.
    static func documentedQueries(_ client: PostgresClient) async throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/integrations.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let start = try #require(text.range(of: "### The questions a ministry asks"))
        let block = try #require(text[start.upperBound...].split(separator: "```").dropFirst().first)
        let queries = block.dropFirst("sql".count).split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        #expect(queries.count >= 7)
        var answers: [String: [String]] = [:]
        for query in queries {
            var rows: [String] = []
            for row in try await client.query(PostgresQuery(unsafeSQL: "SELECT row_to_json(q)::text FROM (\(query.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n"))) q")).collect() {
                rows.append(try row.decode(String.self))
            }
            answers[String(query.split(separator: "\n").first ?? "")] = rows
        }
        let pledges = try #require(answers["-- Pledges registered per bank and month."])
        #expect(pledges.count == 1 && pledges[0].contains(#""bank":"bank-1""#) && pledges[0].contains(#""pledges":1"#) && pledges[0].contains(#""tenge":50000"#), "\(pledges)")
        let outside = try #require(answers["-- Sales paid outside the token, by the bank that confirmed the payment."])
        #expect(outside.count == 1 && outside[0].contains(#""sales":1"#) && outside[0].contains(#""tenge":900000000"#), "\(outside)")
        let owners = try #require(answers["-- Who owns a property, with shares?"])
        #expect(owners == [#"{"party_id":"citizen-1","share":"1/1"}"#], "\(owners)")
    }

    /// Every row of la_party, la_baunit, la_right, la_restriction, la_mortgage and tamga_deed
    /// against the node's reads, and the sets both ways.
    static func compare(_ client: PostgresClient, with node: Node, load: RegisterLoad) async throws {
        var parties: [String: (String, [String], String, String)] = [:]
        for row in try await client.query("SELECT party_id, name, roles, balance_tiyn::text, held_tiyn::text FROM la_party").collect() {
            let (id, name, roles, balance, held) = try row.decode((String, String, [String], String, String).self)
            parties[id] = (name, roles, balance, held)
        }
        #expect(Set(parties.keys) == Set(node.genesis.parties.map(\.id.rawValue)), "the register's parties are genesis's")
        for (id, row) in parties {
            let party = try PartyID(id)
            let record = try #require(try await node.party(party)).record
            let account = try await node.account(of: party)
            #expect(row.0 == record.name && row.1 == record.roles.map(\.rawValue), "\(id)")
            #expect(row.2 == String(account.balance.rawValue) && row.3 == String(account.held.rawValue), "\(id): register \(row.2)/\(row.3), node \(account.balance)/\(account.held)")
        }

        var units: [String: (String, String, String, Bool)] = [:]
        for row in try await client.query("SELECT cadastral_number, kind, address, area_m2::text, arrested FROM la_baunit").collect() {
            let (number, kind, address, area, arrested) = try row.decode((String, String, String, String, Bool).self)
            units[number] = (kind, address, area, arrested)
        }
        #expect(Set(units.keys) == Set(load.properties.map(\.rawValue)))
        var rights: [String: [String]] = [:], restrictions: [String: [String]] = [:]
        for row in try await client.query("SELECT cadastral_number, party_id, share_numerator::text, share_denominator::text FROM la_right").collect() {
            let (number, party, numerator, denominator) = try row.decode((String, String, String, String).self)
            rights[number, default: []].append("\(party) \(numerator)/\(denominator)")
        }
        for row in try await client.query("SELECT restriction_id, cadastral_number, kind, holder FROM la_restriction").collect() {
            let (id, number, kind, holder) = try row.decode((String, String, String, String).self)
            restrictions[number, default: []].append("\(id) \(kind) \(holder)")
        }
        for number in load.properties {
            let passport = try #require(try await node.passport(number))
            let unit = try #require(units[number.rawValue])
            #expect(unit.0 == passport.kind && unit.1 == passport.address && unit.3 == passport.isArrested, "\(number)")
            #expect(unit.2 == String(format: "%llu.%02llu", passport.area.rawValue / 100, passport.area.rawValue % 100), "\(number)")
            #expect(rights[number.rawValue, default: []].sorted() == passport.owners.map { "\($0.party) \($0.share.numerator)/\($0.share.denominator)" }.sorted(), "\(number)")
            #expect(restrictions[number.rawValue, default: []].sorted() == passport.restrictions.map { "\($0.id) \($0.kind.rawValue) \($0.holder)" }.sorted(), "\(number)")
        }
        #expect(Set(rights.keys).isSubset(of: Set(units.keys)) && Set(restrictions.keys).isSubset(of: Set(units.keys)))

        var deeds: [String: (String, [String], String?)] = [:]
        for row in try await client.query("SELECT deed_id, status, signed_by, payment_bank FROM tamga_deed").collect() {
            let (id, status, signedBy, bank) = try row.decode((String, String, [String], String?).self)
            deeds[id] = (status, signedBy, bank)
        }
        #expect(Set(deeds.keys) == Set(load.deeds.map(\.description)))
        for id in load.deeds {
            let deed = try #require(try await node.deed(id))
            let row = try #require(deeds[id.description])
            #expect(row.0 == deed.status.rawValue && row.1 == deed.signedBy.map(\.rawValue) && row.2 == deed.paymentBank?.rawValue, "\(id)")
        }
        var mortgages: [String: (String, [String])] = [:]
        for row in try await client.query("SELECT pledge_id, status, signed_by FROM la_mortgage").collect() {
            let (id, status, signedBy) = try row.decode((String, String, [String]).self)
            mortgages[id] = (status, signedBy)
        }
        #expect(Set(mortgages.keys) == Set(load.pledges.map(\.description)))
        for id in load.pledges {
            let pledge = try #require(try await node.pledge(id))
            #expect(mortgages[id.description].map { $0.0 == pledge.status.rawValue && $0.1 == pledge.signedBy.map(\.rawValue) } == true, "\(id)")
        }
    }
}
