import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TamgaAPI
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaIntegrations
import TamgaStorage
import Testing

/// One running node with a registered property (owned by citizen-1, access code "open-sesame"),
/// and its HTTP router under test.
struct APIFixture {
    let network: TestNetwork
    let node: Node
    let running: Task<Void, any Error>
    let integrations: IntegrationStore
    let property = "01-001-001-1"

    init() async throws {
        network = try TestNetwork(validators: 1)
        node = try Node(home: network.homes[0], logger: quietLogger)
        integrations = try IntegrationStore(path: network.homes[0].integrationsURL.path)
        running = start(node)
        let registrar = try TestSigner("registrar-1", in: network)
        let owner = try TestSigner("citizen-1", in: network)
        let register = try registrar.sign(.registerProperty(RegisterProperty(
            cadastralNumber: try CadastralNumber(property), kind: "apartment", address: "Astana, test street 1", area: AreaHundredths(6_500),
            location: nil, owners: [Ownership(party: try PartyID("citizen-1"), share: .whole)], titleDocumentHash: .sha256(Array("title".utf8)))))
        let code = try owner.sign(.setAccessCode(SetAccessCode(cadastralNumber: try CadastralNumber(property), code: AccessCode(salt: .sha256(Array("salt".utf8)), codeHash: AccessCode.hash("open-sesame", salt: .sha256(Array("salt".utf8)))))))
        for envelope in [register, code] {
            let stored = try #require(try await node.waitForCommit(try await node.submit(envelope), timeout: commitTimeout))
            #expect(stored.receipt.isCommitted, "\(stored.receipt.rejectionMessage ?? "")")
        }
    }

    func finish() {
        running.cancel()
        network.remove()
    }

    /// Submits a transaction and waits for its block; expects it committed, not refused.
    @discardableResult
    func commit(_ envelope: SignedEnvelope) async throws -> StoredReceipt {
        let stored = try #require(try await node.waitForCommit(try await node.submit(envelope), timeout: commitTimeout))
        #expect(stored.receipt.isCommitted, "\(stored.receipt)")
        return stored
    }

    @discardableResult
    func test<Value: Sendable>(limits: NodeConfig.RateLimits = .init(), _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(router: NodeAPI.router(node: node, metrics: nil, limits: limits, integrations: integrations))
        return try await app.test(.router) { client in try await body(client) }
    }

    /// Opens a session for `party` through the API, signing the challenge with its key.
    func session(_ party: String, client: some TestClientProtocol) async throws -> String {
        try await openSession(party, in: network, client: client)
    }
}

/// Opens a session for a party of `network` through the API, signing the challenge with its key.
func openSession(_ party: String, in network: TestNetwork, client: some TestClientProtocol) async throws -> String {
    let challenge = try await client.execute(uri: "/v1/auth/challenge", method: .post) { try json($0) }
    let text = try #require(challenge["signText"] as? String)
    let signing = try network.key(of: party)
    let body: [String: String] = [
        "party": party, "keyId": signing.publicKey.keyID.description,
        "challenge": try #require(challenge["challenge"] as? String),
        "signature": Hex.encode(signing.sign(Array(text.utf8)).bytes),
    ]
    let reply = try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(bytes: try JSONEncoder().encode(body))) { try json($0) }
    return try #require(reply["token"] as? String, "no session: \(reply)")
}

func json(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
}

func code(_ response: TestResponse) -> String? {
    ((try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any])?["code"] as? String
}

func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

@Suite("HTTP API", .serialized)
struct APITests {
    @Test("status, blocks, transactions: answers and every refusal as problem+json with its code")
    func chainEndpoints() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let citizen = try TestSigner("citizen-2", in: fixture.network)
        let good = try JSONEncoder().encode(try transfer(citizen, to: "citizen-3"))
        let honest = try transfer(try TestSigner("citizen-4", in: fixture.network), to: "citizen-3")
        let forged = try SignedEnvelope(payload: honest.payload, signatures: [
            EnvelopeSignature(keyID: honest.signatures[0].keyID, signature: try Signature(bytes: [UInt8](repeating: 7, count: 64))),
        ])
        try await fixture.test { client in
            try await client.execute(uri: "/v1/status", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(try json(response)["chainId"] as? String == "tamga-test")
            }
            try await client.execute(uri: "/v1/transactions?wait=commit", method: .post, body: ByteBuffer(bytes: good)) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(try json(response)["status"] as? String == "committed")
            }
            try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(string: "{not json")) { (response: TestResponse) async throws in
                #expect(response.status == .badRequest)
                #expect(code(response) == "request.malformed")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(bytes: try JSONEncoder().encode(forged))) { (response: TestResponse) async throws in
                #expect(response.status == .unprocessableContent)
                #expect(code(response) == "tx.unknown_key")
            }
            try await client.execute(uri: "/v1/transactions", method: .post,
                                     body: ByteBuffer(bytes: [UInt8](repeating: UInt8(ascii: " "), count: NodeAPI.requestBytesMax + 1))) { (response: TestResponse) async throws in
                #expect(response.status == .contentTooLarge)
                #expect(code(response) == "request.too_large")
            }
            try await client.execute(uri: "/v1/transactions/nothex", method: .get) { #expect(code($0) == "request.bad_id") }
            try await client.execute(uri: "/v1/transactions/\(Hash.sha256([9]).hex)", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/blocks?from=1&limit=2", method: .get) { (response: TestResponse) async throws in
                let page = try json(response)
                #expect((page["items"] as? [Any])?.count == 2)
                #expect(page["next"] as? String == "3")
            }
            try await client.execute(uri: "/v1/blocks?limit=0", method: .get) { #expect(code($0) == "request.bad_limit") }
            try await client.execute(uri: "/v1/blocks/999999", method: .get) { #expect(code($0) == "block.unknown") }
            // Heights beyond SQLite's integers (2^63 and up) are simply not there; they must not trap the node.
            try await client.execute(uri: "/v1/blocks/9223372036854775809", method: .get) { #expect(code($0) == "block.unknown") }
            try await client.execute(uri: "/v1/blocks?from=18446744073709551615", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect((try json(response)["items"] as? [Any])?.isEmpty == true)
            }
            // Idempotency-Key: the same request twice gets the same answer; another request under the key, 409.
            let again = try JSONEncoder().encode(try transfer(citizen, to: "citizen-5"))
            let other = try JSONEncoder().encode(try transfer(citizen, to: "citizen-6"))
            let keyed: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-17"]
            let first = try await client.execute(uri: "/v1/transactions", method: .post, headers: keyed, body: ByteBuffer(bytes: again)) { $0 }
            let second = try await client.execute(uri: "/v1/transactions", method: .post, headers: keyed, body: ByteBuffer(bytes: again)) { $0 }
            #expect(first.status == .accepted && second.status == .accepted)
            #expect(first.body == second.body)
            try await client.execute(uri: "/v1/transactions", method: .post, headers: keyed, body: ByteBuffer(bytes: other)) { (response: TestResponse) async throws in
                #expect(response.status == .conflict)
                #expect(code(response) == "idempotency.key_reused")
            }
            try await client.execute(uri: "/v1/deeds/\(Hash.sha256([1]).hex)", method: .get) { #expect(code($0) == "deed.unknown") }
            try await client.execute(uri: "/v1/pledges/\(Hash.sha256([1]).hex)", method: .get) { #expect(code($0) == "pledge.unknown") }
            try await client.execute(uri: "/v1/nowhere", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .notFound)
                #expect(code(response) == "request.not_found")
            }
        }
    }

    @Test("encumbrances are public; the passport needs its access code or a session of an owner or an authority, and others' reads reach the owner")
    func propertiesAndSessions() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let property = fixture.property
        try await fixture.test { client in
            try await client.execute(uri: "/v1/properties/\(property)/encumbrances", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(try json(response)["isFree"] as? Bool == true)
            }
            try await client.execute(uri: "/v1/properties/99-999-999-9/encumbrances", method: .get) { #expect(code($0) == "property.unknown") }
            try await client.execute(uri: "/v1/properties/not-a-number/encumbrances", method: .get) { #expect(code($0) == "request.bad_cadastral_number") }

            try await client.execute(uri: "/v1/properties/\(property)", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .unauthorized)
                #expect(code(response) == "auth.required")
            }
            try await client.execute(uri: "/v1/properties/\(property)", method: .get, headers: [HTTPField.Name("X-Access-Code")!: "wrong"]) { (response: TestResponse) async throws in
                #expect(response.status == .forbidden)
                #expect(code(response) == "auth.access_code_wrong")
            }
            try await client.execute(uri: "/v1/properties/\(property)", method: .get, headers: [HTTPField.Name("X-Access-Code")!: "open-sesame"]) { (response: TestResponse) async throws in
                let passport = try json(response)
                #expect(passport["address"] as? String == "Astana, test street 1")
                #expect(passport["accessCodeHash"] == nil)
            }

            let owner = try await fixture.session("citizen-1", client: client)
            let stranger = try await fixture.session("citizen-2", client: client)
            let bank = try await fixture.session("bank-1", client: client)
            try await client.execute(uri: "/v1/properties/\(property)", method: .get, headers: bearer(owner)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/properties/\(property)", method: .get, headers: bearer(stranger)) { #expect(code($0) == "auth.not_allowed") }
            try await client.execute(uri: "/v1/properties/\(property)", method: .get, headers: bearer(bank)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/properties/\(property)", method: .get, headers: bearer("forged")) { #expect(code($0) == "auth.session_invalid") }
            try await client.execute(uri: "/v1/properties/\(property)/history", method: .get, headers: bearer(owner)) { (response: TestResponse) async throws in
                let kinds = (try json(response)["items"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } ?? []
                #expect(kinds.count == 2, "registered, then the access code set: \(kinds)")
            }
            try await client.execute(uri: "/v1/properties/\(property)/history?after=18446744073709551615.0.0", method: .get, headers: bearer(owner)) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect((try json(response)["items"] as? [Any])?.isEmpty == true)
            }

            // Listed for sale: it appears among the offers, for anyone.
            let listing = try TestSigner("citizen-1", in: fixture.network)
            // (citizen-1 signed one transaction in the fixture: its access code.)
            _ = try listing.sign(.transfer(Transfer(to: try PartyID("citizen-2"), amount: Tiyn(1))))
            let listed = try await fixture.node.submit(try listing.sign(.list(ListProperty(cadastralNumber: try CadastralNumber(property), price: Tiyn(90_000_000)))))
            #expect(try await fixture.node.waitForCommit(listed, timeout: commitTimeout)?.receipt.isCommitted == true)
            try await client.execute(uri: "/v1/offers?limit=10", method: .get) { (response: TestResponse) async throws in
                let items = try json(response)["items"] as? [[String: Any]] ?? []
                #expect(items.map { $0["cadastralNumber"] as? String } == [property])
                #expect(items.first?["price"] as? Int == 90_000_000)
            }

            // The owner's own data, and the reads by others.
            try await client.execute(uri: "/v1/parties/citizen-1/properties", method: .get, headers: bearer(owner)) { (response: TestResponse) async throws in
                #expect(try json(response)["properties"] as? [String] == [property])
            }
            try await client.execute(uri: "/v1/parties/citizen-1/account", method: .get, headers: bearer(stranger)) { #expect(code($0) == "auth.not_allowed") }
            try await client.execute(uri: "/v1/parties/citizen-1/account", method: .get) { #expect(code($0) == "auth.required") }
            try await client.execute(uri: "/v1/parties/citizen-1/notifications", method: .get, headers: bearer(owner)) { (response: TestResponse) async throws in
                let body = try json(response)
                let readers = (body["passportReads"] as? [[String: Any]])?.compactMap { $0["reader"] as? String } ?? []
                #expect(Set(readers) == ["access code", "a wrong access code", "bank-1"])
                #expect(((body["events"] as? [Any])?.count ?? 0) >= 1)
            }
        }
    }

    @Test("a session needs a fresh challenge, signed by a current key of the party")
    func sessionRefusals() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test { client in
            // Signed with another party's key, naming citizen-1's key.
            let first = try await client.execute(uri: "/v1/auth/challenge", method: .post) { try json($0) }
            let other = try fixture.network.key(of: "citizen-2")
            let forged = try JSONEncoder().encode([
                "party": "citizen-1", "keyId": try fixture.network.key(of: "citizen-1").publicKey.keyID.description,
                "challenge": try #require(first["challenge"] as? String),
                "signature": Hex.encode(other.sign(Array(try #require(first["signText"] as? String).utf8)).bytes),
            ])
            try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(bytes: forged)) { #expect(code($0) == "auth.bad_signature") }
            let challenge = try await client.execute(uri: "/v1/auth/challenge", method: .post) { try json($0) }
            let text = try #require(challenge["signText"] as? String)
            let key = try fixture.network.key(of: "citizen-1")
            let body = try JSONEncoder().encode([
                "party": "citizen-1", "keyId": key.publicKey.keyID.description, "challenge": try #require(challenge["challenge"] as? String),
                "signature": Hex.encode(key.sign(Array(text.utf8)).bytes),
            ])
            try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(bytes: body)) { #expect($0.status == .ok) }
            // The same challenge again.
            try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(bytes: body)) { #expect(code($0) == "auth.challenge_unknown") }
            try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(string: "{}")) { #expect(code($0) == "request.malformed") }
            // A party that does not exist: no session, and no public record.
            let stranger = try JSONEncoder().encode([
                "party": "nobody-here", "keyId": key.publicKey.keyID.description, "challenge": Hash.sha256([5]).hex,
                "signature": Hex.encode(key.sign([1]).bytes),
            ])
            try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(bytes: stranger)) { #expect(code($0) == "auth.unknown_party") }
            try await client.execute(uri: "/v1/parties/nobody-here", method: .get) { #expect(code($0) == "party.unknown") }
            try await client.execute(uri: "/v1/parties/citizen-1", method: .get) { (response: TestResponse) async throws in
                #expect(try json(response)["nonce"] as? Int == 1)
            }
        }
    }
}

@Suite("OpenAPI document", .serialized)
struct OpenAPIDocumentTests {
    @Test("the served document is docs/openapi.json, byte for byte")
    func servedIsTheRepositoryDocument() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: repository.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        #expect(file == NodeAPI.openAPIDocument, "run python3 scripts/openapi.py")
    }

    /// JSON or a problem everywhere; pages for the portal and the certificate; a document's own type.
    static func isDocumentedType(_ type: String, of template: String) -> Bool {
        if type.hasPrefix("application/json") || type.hasPrefix("application/problem+json") { return true }
        if type.hasPrefix("text/") { return template == "/" || template.hasPrefix("/portal/") || template.hasSuffix("/certificate") }
        return template == "/v1/documents/{hash}" && SourceDocument.mediaTypes.contains(type)
    }

    @Test("every documented operation exists and answers with a documented status and media type")
    func everyOperationAnswersAsDocumented() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let document = try #require(try JSONSerialization.jsonObject(with: Data(NodeAPI.openAPIDocument.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let examples = ["{cadastralNumber}": fixture.property, "{id}": "citizen-1", "{height}": "1", "{code}": Hash.sha256([2]).hex, "{file}": "style.css",
                        "{hash}": Hash.sha256([3]).hex, "{webhook}": "wh_unknown"]
        let operations: [(template: String, method: String, documented: Set<String>)] = paths.sorted { $0.key < $1.key }.flatMap { template, methods in
            methods.map { method, operation in
                (template, method, Set(((operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]).keys))
            }
        }
        #expect(operations.count == 42, "the operations this test expects")
        try await fixture.test { client in
            for (template, method, documented) in operations {
                do {
                    var path = template
                    for (name, value) in examples { path = path.replacingOccurrences(of: name, with: value) }
                    if template.hasPrefix("/v1/transactions/") || template.hasPrefix("/v1/deeds/") || template.hasPrefix("/v1/pledges/") {
                        path = path.replacingOccurrences(of: "citizen-1", with: Hash.sha256([1]).hex)
                    }
                    let verb: HTTPRequest.Method = method == "post" ? .post : method == "put" ? .put : method == "delete" ? .delete : .get
                    let response = try await client.execute(uri: path, method: verb, body: verb == .post || verb == .put ? ByteBuffer(string: "{}") : nil) { $0 }
                    #expect(documented.contains(String(response.status.code)), "\(method.uppercased()) \(path) answered \(response.status.code), documented \(documented.sorted())")
                    #expect(code(response) != "request.not_found", "\(method.uppercased()) \(path) is documented but not served")
                    let type = response.headers[.contentType] ?? ""
                    #expect(Self.isDocumentedType(type, of: template), "\(path): \(type)")
                }
            }
        }
    }
}

@Suite("Verifiable extracts", .serialized)
struct ExtractTests {
    @Test("an extract verifies offline against genesis; each kind of tampering fails with its reason, in the library and in tamga verify")
    func extractsVerifyAndTamperingFails() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let property = fixture.property
        let (json, html) = try await fixture.test { client in
            let code: HTTPFields = [HTTPField.Name("X-Access-Code")!: "open-sesame"]
            try await client.execute(uri: "/v1/properties/\(property)/extract", method: .get) { #expect($0.status == .unauthorized) }
            let extractJSON = try await client.execute(uri: "/v1/properties/\(property)/extract", method: .get, headers: code) { Data($0.body.readableBytesView) }
            // The page of the same block: the network may decide another one between the two reads.
            let height = try JSONDecoder().decode(Extract.self, from: extractJSON).height
            let page = try await client.execute(uri: "/v1/properties/\(property)/extract?format=html&height=\(height)", method: .get, headers: code) {
                String(buffer: $0.body)
            }
            return (extractJSON, page)
        }
        let extract = try JSONDecoder().decode(Extract.self, from: json)
        let genesis = fixture.network.genesis
        let header = try extract.verify(chain: genesis.chainID, validators: try genesis.validatorSet())
        #expect(extract.passport.owners.map(\.party.rawValue) == ["citizen-1"])
        #expect(html.contains(extract.verificationCode) && html.contains("free of encumbrances"))
        #expect(html.contains("/#/verify") && html.contains("block \(extract.height) of 20"), "the page names the verifier and the block's date")

        // The readable passport says someone else owns it.
        var readable = extract
        readable.passport.owners = [Ownership(party: try PartyID("citizen-9"), share: .whole)]
        #expect(throws: Extract.Failure.passportMismatch) { _ = try readable.verify(chain: genesis.chainID, validators: try genesis.validatorSet()) }
        // The proven record itself is changed.
        var record = extract
        record.record = Base64.encode(Array(String(decoding: Base64.decode(extract.record) ?? [], as: UTF8.self).replacingOccurrences(of: "citizen-1", with: "citizen-9").utf8))
        #expect { _ = try record.verify(chain: genesis.chainID, validators: try genesis.validatorSet()) } throws: { "\($0)".contains("not in the state") }
        // The header names another state root.
        var forgedHeader = header
        forgedHeader.stateRoot = .sha256([1])
        var headerTampered = extract
        headerTampered.header = Base64.encode(forgedHeader.encoded())
        #expect { _ = try headerTampered.verify(chain: genesis.chainID, validators: try genesis.validatorSet()) } throws: { "\($0)".contains("not finalized") }
        // Another network's validators.
        let stranger = try ValidatorSet([Validator(publicKey: SigningKey().publicKey, votingPower: 1)])
        #expect { _ = try extract.verify(chain: genesis.chainID, validators: stranger) } throws: { "\($0)".contains("not finalized") }

        // The past: before block 2 the property was not registered; an extract at a past block verifies too.
        let status = await fixture.node.status()
        try await fixture.test { client in
            let opened: HTTPFields = [HTTPField.Name("X-Access-Code")!: "open-sesame"]
            try await client.execute(uri: "/v1/properties/\(property)?height=1", method: .get, headers: opened) { #expect(code($0) == "property.unknown") }
            try await client.execute(uri: "/v1/properties/\(property)?height=\(status.height.rawValue)", method: .get, headers: opened) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/properties/\(property)?height=\(status.height.rawValue + 100)", method: .get, headers: opened) { #expect(code($0) == "history.not_decided") }
            try await client.execute(uri: "/v1/properties/\(property)?height=0", method: .get, headers: opened) { #expect(code($0) == "request.bad_height") }
            let past = try await client.execute(uri: "/v1/properties/\(property)/proof?height=\(header.height.rawValue)", method: .get, headers: opened) {
                try JSONDecoder().decode(Extract.self, from: Data($0.body.readableBytesView))
            }
            #expect(try past.verify(chain: genesis.chainID, validators: try genesis.validatorSet()).height == header.height)
        }

        // The same through the command line, as a citizen would check a printed extract.
        let directory = fixture.network.directory
        let good = directory.appendingPathComponent("extract.json"), bad = directory.appendingPathComponent("tampered.json")
        try json.write(to: good)
        try JSONEncoder().encode(record).write(to: bad)
        let genesisPath = fixture.network.homes[0].genesisURL.path
        let valid = try await runTamga(["verify", good.path, "--genesis", genesisPath])
        #expect(valid.status == 0 && valid.output.contains("VALID") && valid.output.contains("encumbrances: none"), "\(valid.output)")
        let invalid = try await runTamga(["verify", bad.path, "--genesis", genesisPath])
        #expect(invalid.status != 0 && invalid.output.contains("NOT VALID"), "\(invalid.output)")
    }
}
