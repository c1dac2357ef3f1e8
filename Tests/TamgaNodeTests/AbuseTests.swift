import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import TamgaAPI
import TamgaCore
import TamgaLedger
@testable import TamgaNode
import TamgaStorage
import Testing

@Suite("The API against abusive clients", .serialized)
struct APIAbuseTests {
    @Test("anonymous readers see a transaction's status and height only; its parties and authorities see what it did; a resubmission answers its receipt")
    func receiptsArePrivate() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        let sender = try TestSigner("citizen-2", in: fixture.network)
        let envelope = try JSONEncoder().encode(try transfer(sender, to: "citizen-3"))
        try await fixture.test { client in
            let submitted = try await client.execute(uri: "/v1/transactions?wait=commit", method: .post, body: ByteBuffer(bytes: envelope)) { try json($0) }
            #expect(submitted["status"] as? String == "committed")
            #expect(submitted["receipt"] != nil, "the submitter holds the envelope")
            let id = try #require(submitted["id"] as? String)
            let anonymous = try await client.execute(uri: "/v1/transactions/\(id)", method: .get) { try json($0) }
            #expect(anonymous["status"] as? String == "committed")
            #expect(anonymous["height"] != nil)
            #expect(anonymous["receipt"] == nil)
            for (party, sees) in [("citizen-2", true), ("citizen-3", true), ("citizen-4", false), ("registrar-1", true)] {
                let token = try await fixture.session(party, client: client)
                let answer = try await client.execute(uri: "/v1/transactions/\(id)", method: .get, headers: bearer(token)) { try json($0) }
                #expect((answer["receipt"] != nil) == sees, "\(party)")
            }
            // The same envelope again: its committed status (200), not "pending" (202).
            try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(bytes: envelope)) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                #expect(try json(response)["status"] as? String == "committed")
            }
        }
    }

    @Test("nothing under /v1 is cached, nothing is sniffed, and the extract page runs no script and cannot be framed")
    func headers() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test { client in
            for uri in ["/v1/status", "/v1/properties/\(fixture.property)/encumbrances", "/v1/nowhere"] {
                try await client.execute(uri: uri, method: .get) { (response: TestResponse) async throws in
                    #expect(response.headers[.cacheControl] == "no-store", "\(uri)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(uri)")
                }
            }
            try await client.execute(uri: "/v1/properties/\(fixture.property)/extract?format=html", method: .get,
                                     headers: [HTTPField.Name("X-Access-Code")!: "open-sesame"]) { (response: TestResponse) async throws in
                #expect(response.status == .ok)
                let policy = response.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"))
                #expect(response.headers[.cacheControl] == "no-store")
            }
        }
    }

    @Test("a flood of one kind of request is answered 429 with Retry-After, per client and per signing party")
    func rateLimits() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        // Budgets that refill slowly (a minute's worth is the burst: 6 challenges, 3 submissions per
        // party), so that a test slowed down by a loaded machine sees no refill half way.
        let limits = NodeConfig.RateLimits(authPerSecond: 0.1, submissionsPerPartyPerSecond: 0.05, burstSeconds: 60)
        try await fixture.test(limits: limits) { client in
            var answers: [HTTPResponse.Status] = []
            for _ in 0..<12 { answers.append(try await client.execute(uri: "/v1/auth/challenge", method: .post) { $0.status }) }
            #expect(answers.prefix(6).allSatisfy { $0 == .ok })
            #expect(answers.suffix(5).allSatisfy { $0 == .tooManyRequests })
            try await client.execute(uri: "/v1/auth/challenge", method: .post) { (response: TestResponse) async throws in
                #expect(code(response) == "request.rate_limited")
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
            // The same route spelled with empty segments is the same budget.
            for uri in ["//v1/auth/challenge", "/v1//auth/challenge", "/v1/auth/challenge/"] {
                try await client.execute(uri: uri, method: .post) { #expect(code($0) == "request.rate_limited", "\(uri)") }
            }
            // Other kinds of request still pass, and are not cached however they are spelled.
            try await client.execute(uri: "/v1/status", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "//v1/status", method: .get) { #expect($0.headers[.cacheControl] == "no-store") }
            // Envelopes that only name a party as their signer, with forged signatures, do not
            // spend that party's budget.
            let victim = try TestSigner("citizen-8", in: fixture.network)
            let forger = SigningKey()
            for _ in 0..<5 {
                let honest = try transfer(victim, to: "citizen-6")
                let forged = try SignedEnvelope(payload: honest.payload, signatures: [
                    EnvelopeSignature(keyID: victim.key.publicKey.keyID, signature: forger.sign(honest.payload)),
                ])
                try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(bytes: try JSONEncoder().encode(forged))) {
                    #expect(code($0) == "tx.unknown_key")
                }
            }
            let real = try JSONEncoder().encode(try victim.sign(.transfer(Transfer(to: try PartyID("citizen-6"), amount: Tiyn(1))), nonce: 1))
            try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(bytes: real)) { #expect($0.status == .accepted) }
            // One signer's submissions: three at once, then refused until its budget refills.
            let sender = try TestSigner("citizen-5", in: fixture.network)
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<5 {
                let body = try JSONEncoder().encode(try transfer(sender, to: "citizen-6"))
                statuses.append(try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(bytes: body)) { $0.status })
            }
            #expect(statuses.prefix(3).allSatisfy { $0 == .accepted }, "\(statuses)")
            #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests }, "\(statuses)")
            // Another signer is not held back by the first one's budget.
            let other = try JSONEncoder().encode(try transfer(try TestSigner("citizen-7", in: fixture.network), to: "citizen-6"))
            try await client.execute(uri: "/v1/transactions", method: .post, body: ByteBuffer(bytes: other)) { #expect($0.status == .accepted) }
        }
    }

    @Test("an access-code guesser is stopped after five tries, even the right code waits out the lock, and the owner sees every wrong try")
    func accessCodeGuessing() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test(limits: .init(readsPerSecond: 10_000)) { client in
            let uri = "/v1/properties/\(fixture.property)"
            var codes: [String?] = []
            for guess in 0..<300 {
                codes.append(try await client.execute(uri: uri, method: .get, headers: [HTTPField.Name("X-Access-Code")!: "guess-\(guess)"]) { code($0) })
            }
            #expect(codes.prefix(4).allSatisfy { $0 == "auth.access_code_wrong" })
            #expect(codes.dropFirst(4).allSatisfy { $0 == "auth.access_code_locked" }, "\(Set(codes.dropFirst(4).compactMap { $0 }))")
            try await client.execute(uri: uri, method: .get, headers: [HTTPField.Name("X-Access-Code")!: "open-sesame"]) { (response: TestResponse) async throws in
                #expect(response.status == .tooManyRequests)
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 30)
            }
            // The owner reads with a session whatever the lock, and sees the five wrong tries.
            let token = try await fixture.session("citizen-1", client: client)
            try await client.execute(uri: uri, method: .get, headers: bearer(token)) { #expect($0.status == .ok) }
            let notifications = try await client.execute(uri: "/v1/parties/citizen-1/notifications", method: .get, headers: bearer(token)) { try json($0) }
            let readers = (notifications["passportReads"] as? [[String: Any]])?.compactMap { $0["reader"] as? String } ?? []
            #expect(readers.filter { $0 == "a wrong access code" }.count == AccessCodeGuard.freeAttempts)
        }
    }

    @Test("guesses sent at once get no more tries than guesses sent one by one")
    func concurrentGuessing() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test(limits: .init(readsPerSecond: 10_000)) { client in
            let uri = "/v1/properties/\(fixture.property)"
            let codes = try await withThrowingTaskGroup(of: String?.self) { group in
                for guess in 0..<60 {
                    group.addTask { try await client.execute(uri: uri, method: .get, headers: [HTTPField.Name("X-Access-Code")!: "guess-\(guess)"]) { code($0) } }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(codes.filter { $0 == "auth.access_code_wrong" }.count <= AccessCodeGuard.freeAttempts - 1, "\(codes)")
            #expect(codes.filter { $0 == "auth.access_code_locked" }.count >= 60 - AccessCodeGuard.freeAttempts)
        }
    }

    @Test("a session ends at logout, and as soon as the key it was opened with is revoked")
    func sessionsEnd() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test { client in
            let account = "/v1/parties/citizen-1/account"
            var token = try await fixture.session("citizen-1", client: client)
            try await client.execute(uri: account, method: .get, headers: bearer(token)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/auth/session", method: .delete, headers: bearer(token)) { #expect($0.status == .noContent) }
            try await client.execute(uri: account, method: .get, headers: bearer(token)) { #expect(code($0) == "auth.session_invalid") }

            token = try await fixture.session("citizen-1", client: client)
            let owner = try fixture.network.key(of: "citizen-1")
            let second = SigningKey()
            // The fixture used citizen-1's nonce 1 (its access code); a new key must sign its own addition.
            let changes: [(Action, UInt64, [SigningKey])] = [
                (.addKey(AddKey(publicKey: second.publicKey)), 2, [owner, second]),
                (.revokeKey(RevokeKey(keyId: owner.publicKey.keyID)), 3, [owner]),
            ]
            for (action, nonce, keys) in changes {
                let payload = TransactionPayload(chainID: fixture.network.genesis.chainID, signer: try PartyID("citizen-1"), nonce: nonce, fee: Tiyn(100),
                                                 expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + 600_000), action: action)
                let envelope = try SignedEnvelope.signing(payload.encoded(), with: keys)
                let stored = try #require(try await fixture.node.waitForCommit(try await fixture.node.submit(envelope), timeout: commitTimeout))
                #expect(stored.receipt.isCommitted, "\(stored.receipt.rejectionMessage ?? "")")
            }
            try await client.execute(uri: account, method: .get, headers: bearer(token)) { #expect(code($0) == "auth.session_revoked") }
        }
    }

    @Test("challenges cost the node nothing to hand out: a flood of them leaves logins working; each opens one session; a forged one opens none")
    func statelessChallenges() async throws {
        let fixture = try await APIFixture()
        defer { fixture.finish() }
        try await fixture.test(limits: .init(authPerSecond: 1_000_000)) { client in
            let first = try await client.execute(uri: "/v1/auth/challenge", method: .post) { try json($0) }
            for _ in 0..<2_000 { _ = try await client.execute(uri: "/v1/auth/challenge", method: .post) { $0.status } }
            let challenge = try #require(first["challenge"] as? String)
            let key = try fixture.network.key(of: "citizen-1")
            func open(_ challenge: String) async throws -> TestResponse {
                let text = SessionStore.signedText(chain: fixture.network.genesis.chainID, challenge: challenge)
                let body: [String: String] = ["party": "citizen-1", "keyId": key.publicKey.keyID.description, "challenge": challenge,
                                              "signature": Hex.encode(key.sign(text).bytes)]
                return try await client.execute(uri: "/v1/auth/session", method: .post, body: ByteBuffer(bytes: try JSONEncoder().encode(body))) { $0 }
            }
            #expect(try await open(challenge).status == .ok)
            #expect(code(try await open(challenge)) == "auth.challenge_unknown")
            #expect(code(try await open(Hex.encode([UInt8](repeating: 3, count: 40)))) == "auth.challenge_unknown")
        }
    }
}

@Suite("The node's mempool against parking and unpaid fees")
struct MempoolPolicyTests {
    @Test("far expiries, a taken nonce and fees beyond the balance are refused with their codes")
    func admission() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        defer { running.cancel() }
        let citizen = try TestSigner("citizen-1", in: network)
        let action = Action.transfer(Transfer(to: try PartyID("citizen-2"), amount: Tiyn(1)))
        await #expect(throws: MempoolError.expiresTooLate(maxHours: 24)) {
            _ = try await node.submit(try citizen.sign(action, nonce: 1, expiresInMillis: 25 * 3_600_000))
        }
        // Parked behind a gap (nonce 1 never comes), offering the whole balance as its fee.
        let parked = try citizen.sign(action, fee: Tiyn(1_000_000_000), nonce: 3)
        #expect(try await node.submit(parked) == parked.transactionID)
        await #expect(throws: MempoolError.nonceTaken(citizen.party, nonce: 3, waiting: parked.transactionID)) {
            _ = try await node.submit(try citizen.sign(action, fee: Tiyn(200), nonce: 3))
        }
        await #expect(throws: MempoolError.feesExceedBalance(citizen.party)) {
            _ = try await node.submit(try citizen.sign(action, fee: Tiyn(100), nonce: 4))
        }
        #expect(try await node.status(of: parked.transactionID) == .pending)
    }

    @Test("a client waiting for a transaction that leaves the mempool uncommitted is told, with why")
    func waitingOnADroppedTransaction() async throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let node = try Node(home: network.homes[0], logger: quietLogger)
        let running = start(node)
        defer { running.cancel() }
        let citizen = try TestSigner("citizen-1", in: network)
        // Behind a nonce gap, and expiring in a second and a half: the check after a block drops it.
        let doomed = try citizen.sign(.transfer(Transfer(to: try PartyID("citizen-2"), amount: Tiyn(1))), nonce: 2, expiresInMillis: 1_500)
        let id = try await node.submit(doomed)
        #expect(try await node.waitForCommit(id, timeout: commitTimeout) == nil)
        guard case let .dropped(code, _) = try await node.status(of: id) else {
            Issue.record("not dropped: \(try await node.status(of: id))")
            return
        }
        #expect(code == "tx.expired")
    }
}
