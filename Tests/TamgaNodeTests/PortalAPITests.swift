import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import TamgaAPI
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaStorage
import Testing

@Suite("The portal and the API it needs", .serialized)
struct PortalAPITests {
    @Test("the portal's files are served with a policy that runs only its own scripts; nothing else is reachable through /portal")
    func portalFiles() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test { client in
            try await client.execute(uri: "/", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                #expect(String(buffer: response.body).contains("/portal/js/app.js"))
            }
            try await client.execute(uri: "/portal/js/app.js", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
            }
            for language in ["kk", "ru", "en"] {
                try await client.execute(uri: "/portal/i18n/\(language).json", method: .get) { (response: TestResponse) async throws in
                    #expect(response.status == .ok)
                    #expect(try json(response)["home.title"] is String)
                }
            }
            for path in ["/portal/../../Package.swift", "/portal/%2e%2e/API.swift", "/portal/nothing.js", "/portal/"] {
                try await client.execute(uri: path, method: .get) { (response: TestResponse) async throws in
                    #expect(response.status == .notFound, "\(path)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
            }
        }
    }

    @Test("every catalog has every message the English one has, and no other")
    func catalogsAgree() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/TamgaAPI/Portal/i18n")
        func keys(_ language: String) throws -> Set<String> {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(language).json")))
            return Set(try #require(object as? [String: String]).keys)
        }
        let english = try keys("en")
        #expect(english.count > 300)
        for language in ["kk", "ru"] {
            let other = try keys(language)
            #expect(english.subtracting(other).isEmpty, "\(language) lacks \(english.subtracting(other).sorted())")
            #expect(other.subtracting(english).isEmpty, "\(language) has extra \(other.subtracting(english).sorted())")
        }
        // Every rejection code the ledger can return has a message for the person, and so do
        // the API's and the mempool's.
        for code in Rejection.Code.allCases.map(\.rawValue) + ["auth.session_revoked", "node.catching_up", "mempool.nonce_taken"] {
            #expect(english.contains("error.\(code)"), "no message for \(code)")
        }
    }

    @Test("the genesis file, extracts found again by their check code, and a party's open deeds")
    func genesisExtractsAndDeeds() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let buyer = try TestSigner("citizen-2", in: fixture.network)
        let proposal = try buyer.sign(.proposeDeed(ProposeDeed(
            cadastralNumber: try CadastralNumber(fixture.property), sellers: [Deed.Seller(party: try PartyID("citizen-1"), share: .whole)],
            buyers: [Deed.Buyer(party: try PartyID("citizen-2"), share: .whole, pays: Tiyn(1_000))])))
        let deedID = try #require(try await fixture.node.waitForCommit(try await fixture.node.submit(proposal), timeout: commitTimeout)).receipt.transaction
        try await fixture.test { client in
            try await client.execute(uri: "/v1/genesis", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                let genesis = try json(response)
                #expect(genesis["chainId"] as? String == "tamga-test")
                #expect((genesis["validators"] as? [[String: Any]])?.count == fixture.network.genesis.validators.count)
                #expect(genesis["parties"] == nil, "the genesis parties' names and identity commitments are not public")
            }
            try await client.execute(uri: "/v1/status", method: .get) { (response: TestResponse) async throws in
                #expect(try json(response)["minimumFee"] as? Int == 100)
            }
            try await client.execute(uri: "/v1/demo/parties", method: .get) { #expect(code($0) == "demo.disabled") }
            let unknown = Hash.sha256([9]).hex
            try await client.execute(uri: "/v1/extracts/\(unknown)", method: .get) { #expect(code($0) == "extract.unknown") }
            try await client.execute(uri: "/v1/extracts/not-hex", method: .get) { #expect(code($0) == "request.bad_code") }

            let owner = try await fixture.session("citizen-1", client: client)
            let served = try await client.execute(uri: "/v1/properties/\(fixture.property)/extract", method: .get, headers: bearer(owner)) { (response: TestResponse) async throws in
                try JSONDecoder().decode(Extract.self, from: Data(response.body.readableBytesView))
            }
            try await client.execute(uri: "/v1/extracts/\(served.verificationCode)", method: .get) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(try JSONDecoder().decode(Extract.self, from: Data(response.body.readableBytesView)) == served)
            }
            #expect(try fixture.node.passportReads(of: try PartyID("citizen-1"), limit: 10).contains { $0.reader == "check code" })
            let past = try await client.execute(uri: "/v1/properties/\(fixture.property)/extract?height=\(served.height)", method: .get, headers: bearer(owner)) {
                (response: TestResponse) async throws in try JSONDecoder().decode(Extract.self, from: Data(response.body.readableBytesView))
            }
            if past.verificationCode != served.verificationCode {
                try await client.execute(uri: "/v1/extracts/\(past.verificationCode)", method: .get) { #expect(code($0) == "extract.unknown", "extracts of a past height are not kept") }
            }

            for party in ["citizen-1", "citizen-2"] {
                let token = try await fixture.session(party, client: client)
                try await client.execute(uri: "/v1/parties/\(party)/deeds", method: .get, headers: bearer(token)) { (response: TestResponse) async throws in
                    let deeds = try #require(try json(response)["deeds"] as? [[String: Any]])
                    #expect(deeds.map { $0["id"] as? String } == [deedID.description], "\(party)")
                }
            }
            let stranger = try await fixture.session("citizen-3", client: client)
            try await client.execute(uri: "/v1/parties/citizen-3/deeds", method: .get, headers: bearer(stranger)) { (response: TestResponse) async throws in
                #expect(try #require(try json(response)["deeds"] as? [[String: Any]]).isEmpty)
            }
            try await client.execute(uri: "/v1/parties/citizen-1/deeds", method: .get, headers: bearer(stranger)) { #expect(code($0) == "auth.not_allowed") }
            try await client.execute(uri: "/v1/parties/citizen-1/notifications/stream", method: .get) { #expect(code($0) == "auth.required") }
            try await client.execute(uri: "/v1/parties/citizen-1/notifications/stream", method: .get, headers: bearer(stranger)) { #expect(code($0) == "auth.not_allowed") }
        }
        // A settled or cancelled deed is no longer waiting for anyone.
        let seller = try TestSigner("citizen-1", in: fixture.network)
        _ = try #require(try await fixture.node.waitForCommit(try await fixture.node.submit(try seller.sign(.cancelDeed(DeedReference(deed: deedID)), nonce: 2)), timeout: commitTimeout))
        #expect(try await fixture.node.openDeeds(of: try PartyID("citizen-2")).isEmpty)
    }

    @Test("a party's notification streams are bounded, and a place comes back when its stream is dropped unrun")
    func streamLeases() throws {
        let leases = StreamLeases(perParty: 2)
        let party = try PartyID("citizen-1")
        var first = leases.open(party)
        let second = try #require(leases.open(party))
        #expect(first != nil)
        #expect(leases.open(party) == nil)
        #expect(leases.open(try PartyID("citizen-2")) != nil, "another party's budget is its own")
        first = nil
        #expect(leases.count(of: party) == 1)
        second.end()
        second.end()
        #expect(leases.count(of: party) == 0, "ending twice gives back one place")
    }

    @Test("demo keys go only to a request addressed to loopback, so a rebinding site gets none")
    func demoHostCheck() {
        for host in ["127.0.0.1:8080", "localhost", "[::1]:8080", "LOCALHOST:1"] { #expect(DemoParty.isLoopback(host: host), "\(host)") }
        for host in ["evil.example:8080", "127.0.0.1.evil.example", "", "[::2]:80"] { #expect(!DemoParty.isLoopback(host: host), "\(host)") }
    }

    @Test("demo parties are offered only by a devnet node that listens on loopback")
    func demoPartiesOnlyOnLoopback() throws {
        let fixture = TestNetworkFolder()
        defer { fixture.remove() }
        let home = try fixture.homes()[0]
        var config = try home.loadConfig()
        let genesis = try home.loadGenesis()
        #expect(config.demoParties == "../parties")
        let offered = DemoParty.load(config: config, home: home, genesis: genesis)
        #expect(offered.contains { $0.party == "citizen-1" && $0.roles == ["citizen"] })
        #expect(offered.allSatisfy { (try? KeyFile.decode(Array($0.keyFile.utf8))) != nil })
        config.apiHost = "0.0.0.0"
        #expect(DemoParty.load(config: config, home: home, genesis: genesis).isEmpty)
        config.apiHost = "127.0.0.1"
        config.demoParties = nil
        #expect(DemoParty.load(config: config, home: home, genesis: genesis).isEmpty)
    }
}

/// A network folder written by `NetworkSetup` with demo parties, removed afterwards.
struct TestNetworkFolder {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-portal-\(UUID().uuidString)")

    func homes() throws -> [NodeHome] {
        let setup = NetworkSetup(chainID: try ChainID("tamga-test"), validators: 1, ports: .consecutive(validators: 1, peerBase: 40_100, apiBase: 40_200),
                                 demo: true, citizens: 10, genesisTime: Timestamp(millisecondsSinceEpoch: 1_764_000_000_000), parameters: Parameters())
        _ = try setup.write(to: url)
        return try NetworkSetup.nodeHomes(in: url)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
