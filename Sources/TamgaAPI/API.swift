import Foundation
import HTTPTypes
public import Hummingbird
import Logging
public import NIOCore
public import Prometheus
import TamgaConsensus
import TamgaCore
import TamgaLedger
public import TamgaNode
public import TamgaIntegrations
import TamgaStorage

/// The node's HTTP API (JSON under `/v1`, Prometheus text under `/metrics`). Errors are RFC 9457
/// problem documents (`application/problem+json`) carrying the stable code of what went wrong.
public enum NodeAPI {
    /// The longest request body accepted (a signed envelope in JSON, base64 payload included).
    public static let requestBytesMax = 2 * Limits.envelopeBytesMax
    /// How long `POST /v1/transactions?wait=commit` waits for finality before answering 504.
    public static let commitWaitSeconds = 30

    /// How many live notification streams one party may hold on one node.
    public static let notificationStreamsPerParty = 4

    public static func router(node: Node, metrics: PrometheusCollectorRegistry?, limits: NodeConfig.RateLimits = .init(),
                              demoParties: [DemoParty] = [], integrations: IntegrationStore? = nil) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let sessions = SessionStore()
        let idempotency = IdempotencyStore()
        let limiter = RateLimiter()
        let guesses = AccessCodeGuard()
        let gate = Gate(node: node, sessions: sessions, limiter: limiter, limits: limits, guesses: guesses)
        // Outermost first: headers go on every answer, problems included; limits answer as problems.
        router.add(middleware: HeadersMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RateLimitMiddleware(limiter: limiter, limits: limits))
        router.get("/v1/status") { _, _ in
            try json(StatusBody(await node.status()))
        }
        // The public part of genesis: what the portal's verifier checks extracts against (a person
        // may also give it a genesis file of their own).
        let genesis = try? Answer(GenesisBody(node.genesis))
        router.get("/v1/genesis") { _, _ in
            guard let genesis else { throw Problem(status: .internalServerError, code: "server.internal", detail: "the genesis does not encode") }
            return genesis.response
        }
        router.get("/v1/demo/parties") { request, _ in
            // A page of another site resolved to this address (DNS rebinding) names its own host.
            guard !demoParties.isEmpty, DemoParty.isLoopback(host: request.head.authority ?? "") else {
                throw Problem(status: .notFound, code: "demo.disabled", detail: "this node offers no demo parties (only a devnet's nodes on loopback do)")
            }
            return try json(demoParties)
        }
        router.get("/v1/extracts/:code") { _, context in
            guard let code = Hash(hex: context.parameters.get("code") ?? "") else {
                throw Problem(status: .badRequest, code: "request.bad_code", detail: "a verification code is 64 hex characters")
            }
            guard let bytes = try node.issuedExtract(code: code), let extract = try? JSONDecoder().decode(Extract.self, from: Data(bytes)),
                  let number = try? CadastralNumber(extract.cadastralNumber)
            else {
                throw Problem(status: .notFound, code: "extract.unknown", detail: "this node issued no extract with verification code \(code)")
            }
            // Whoever holds the code reads the passport as it was: the owners of then see it.
            try node.logPassportRead(number, owners: extract.passport.owners.map(\.party), reader: "check code")
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        PortalFiles.load().add(to: router)
        DocumentRoutes.add(to: router, node: node, gate: gate)
        if let integrations {
            IntegrationRoutes.add(to: router, node: node, gate: gate, store: integrations,
                                  allowPrivateAddresses: node.config.delivery?.webhookPrivateAddresses ?? false)
        }
        router.post("/v1/transactions") { request, context in
            let body = try await collectBody(request)
            let wait = request.uri.queryParameters.get("wait") == "commit"
            guard let key = request.headers[HTTPField.Name("Idempotency-Key")!] else {
                return try await submit(body, wait: wait, gate: gate).response
            }
            // The query is part of what is asked: the same key with another `wait` is another request.
            let fingerprint = Hash.sha256(Array(body.readableBytesView) + Array("wait=\(wait)".utf8))
            return try await idempotency.answer(key: key, scope: context.client, fingerprint: fingerprint) {
                try await submit(body, wait: wait, gate: gate)
            }.response
        }
        router.get("/v1/transactions/:id") { request, context in
            let id = try transactionID(context)
            let status = try await node.status(of: id)
            if status == .unknown { throw Problem(status: .notFound, code: "tx.unknown", detail: "this node knows no transaction \(id)") }
            guard case let .committed(stored) = status else { return try json(TransactionBody(id: id, status: status)) }
            // Anyone may learn that a transaction is final and where; what it did is for its parties.
            let involved = try await gate.mayReadReceipt(stored, request: request)
            return try json(TransactionBody(id: id, status: status, showingReceipt: involved))
        }
        router.get("/v1/blocks/:height") { _, context in
            guard let text = context.parameters.get("height"), let raw = UInt64(text), raw >= 1 else {
                throw Problem(status: .badRequest, code: "request.bad_height", detail: "a height is a whole number from 1")
            }
            guard let (block, commit, receipts) = try await node.block(at: Height(raw)) else {
                throw Problem(status: .notFound, code: "block.unknown", detail: "no block at height \(raw) yet")
            }
            return try json(BlockBody(block: block, commit: commit, receipts: receipts))
        }
        router.get("/v1/parties/:id") { _, context in
            guard let id = try? PartyID(context.parameters.get("id") ?? "") else {
                throw Problem(status: .badRequest, code: "request.bad_party_id", detail: "not a party id")
            }
            guard let (record, nonce) = try await node.party(id) else {
                throw Problem(status: .notFound, code: "party.unknown", detail: "no enrolled party \(id)")
            }
            return try json(PartyBody(id: record.id, roles: record.roles, keys: record.keys, nonce: nonce))
        }
        router.get("/v1/blocks") { request, _ in
            let from = try request.uri.queryParameters.get("from").map { text -> UInt64 in
                guard let value = UInt64(text), value >= 1 else { throw Problem(status: .badRequest, code: "request.bad_cursor", detail: "from is a height from 1") }
                return value
            } ?? 1
            let limit = try pageLimit(request)
            let blocks = try await node.blocks(from: Height(from), limit: limit)
            let next = blocks.count == limit ? blocks.last.map { String($0.block.header.height.rawValue + 1) } : nil
            return try json(Page(items: blocks.map { BlockBody(block: $0.block, commit: $0.commit, receipts: $0.receipts) }, next: next))
        }

        // Sessions.
        router.post("/v1/auth/challenge") { _, _ in
            let challenge = sessions.newChallenge()
            let chain = node.genesis.chainID
            return try json(ChallengeBody(challenge: challenge, expiresInSeconds: 120,
                                          signText: String(decoding: SessionStore.signedText(chain: chain, challenge: challenge), as: UTF8.self)))
        }
        router.post("/v1/auth/session") { request, _ in
            let body: SessionRequest = try await decodeBody(request)
            guard let party = try? PartyID(body.party), let keyHash = Hash(hex: body.keyId),
                  let signatureBytes = Hex.decode(body.signature), let signature = try? Signature(bytes: signatureBytes)
            else { throw Problem(status: .badRequest, code: "request.malformed", detail: "party, keyId (64 hex) and signature (128 hex) are required") }
            guard let (record, _) = try await node.party(party) else {
                throw Problem(status: .unauthorized, code: "auth.unknown_party", detail: "no enrolled party \(party)")
            }
            let (token, lifetime) = try sessions.openSession(challenge: body.challenge, party: record, keyID: KeyID(hash: keyHash),
                                                             signature: signature, chain: node.genesis.chainID)
            return try json(SessionBody(token: token, party: record.id, roles: record.roles, expiresInSeconds: Int(lifetime.components.seconds)))
        }
        router.delete("/v1/auth/session") { request, _ in
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), sessions.end(String(header.dropFirst(7))) else {
                throw Problem(status: .unauthorized, code: "auth.session_invalid", detail: "no live session behind this token")
            }
            return Response(status: .noContent)
        }

        // Properties.
        router.get("/v1/properties/:cadastralNumber/encumbrances") { _, context in
            let number = try cadastralNumber(context)
            guard let status = try await node.encumbrances(number) else { throw unknownProperty(number) }
            return try json(status)
        }
        router.get("/v1/properties/:cadastralNumber") { request, context in
            let number = try cadastralNumber(context)
            guard let current = try await node.passport(number) else { throw unknownProperty(number) }
            // Access is decided by today's owners and access code, also for a past state.
            try await gate.authorizePassportRead(current, request: request)
            var passport = current
            if let height = try blockHeight(request) {
                guard let past = try await history({ try await node.passport(number, atBlock: height) }) else {
                    throw Problem(status: .notFound, code: "property.unknown", detail: "\(number) was not registered in the state of block \(height)")
                }
                passport = past
            }
            return try json(passport)
        }
        router.get("/v1/properties/:cadastralNumber/history") { request, context in
            let number = try cadastralNumber(context)
            guard let passport = try await node.passport(number) else { throw unknownProperty(number) }
            try await gate.authorizePassportRead(passport, request: request)
            return try json(try await eventPage(about: "property/\(number)", request: request, node: node))
        }

        let extract: @Sendable (Request, APIRequestContext) async throws -> Response = { request, context in
            let number = try cadastralNumber(context)
            guard let passport = try await node.passport(number) else { throw unknownProperty(number) }
            try await gate.authorizePassportRead(passport, request: request)
            let height = try blockHeight(request)
            guard let parts = try await history({ try await node.extractParts(number, atBlock: height) }) else {
                if height != nil { throw Problem(status: .notFound, code: "property.unknown", detail: "\(number) was not registered in that state") }
                throw Problem(status: .serviceUnavailable, code: "extract.no_block_yet", detail: "the property was registered after the last block; try again in a moment")
            }
            let extract = try Extract(cadastralNumber: number, record: parts.value, proof: parts.proof, header: parts.header, commit: parts.commit,
                                      validatorHandovers: node.validatorHandovers)
            let answer = try Answer(extract)
            // The latest extract is kept under its verification code, so the printed code finds it
            // again (GET /v1/extracts/{code}); extracts of past heights are not kept.
            if height == nil {
                try node.recordIssuedExtract(code: extract.verificationHash, cadastralNumber: number, height: parts.header.height, json: answer.body)
            }
            guard request.uri.queryParameters.get("format") == "html" else { return answer.response }
            // Only the latest extract is found again by its code; a past one is verified from its file.
            let verifyAddress = verifier(request, node: node) + (height == nil ? "?code=\(extract.verificationCode)" : "")
            return Response(status: .ok, headers: HeadersMiddleware.htmlHeaders,
                            body: .init(byteBuffer: ByteBuffer(string: ExtractPage.html(extract, blockTime: parts.header.time, verifyAddress: verifyAddress))))
        }
        router.get("/v1/properties/:cadastralNumber/extract", use: extract)
        router.get("/v1/properties/:cadastralNumber/proof", use: extract)

        // Offers: public, like any advertisement.
        router.get("/v1/offers") { request, _ in
            let limit = try pageLimit(request)
            let after = request.uri.queryParameters.get("after").map { String($0) }
            let (offers, next) = try await node.offers(after: after, limit: limit)
            return try json(Page(items: offers.map { OfferBody(listing: $0.listing, passport: $0.passport) }, next: next))
        }

        // A party's own data: a session of that party.
        router.get("/v1/parties/:id/properties") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            return try json(PropertiesBody(party: party, properties: try await node.properties(of: party)))
        }
        router.get("/v1/parties/:id/account") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            let account = try await node.account(of: party)
            return try json(AccountBody(party: party, balance: account.balance, held: account.held))
        }
        router.get("/v1/parties/:id/notifications") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            let events = try await eventPage(about: "party/\(party)", request: request, node: node)
            let reads = try await node.passportReads(of: party, limit: Limits.pageSizeMax)
            return try json(NotificationsBody(events: events.items, next: events.next,
                                              passportReads: reads.map { PassportReadBody(cadastralNumber: $0.cadastralNumber, reader: $0.reader, at: $0.at.rawValue) }))
        }

        router.get("/v1/parties/:id/deeds") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            return try json(DeedsBody(party: party, deeds: try await node.openDeeds(of: party)))
        }
        let streams = StreamLeases(perParty: notificationStreamsPerParty)
        router.get("/v1/parties/:id/notifications/stream") { request, context in
            let party = try await gate.requireSelf(request, context: context)
            let start = try cursor(request) ?? request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { EventCursor(text: $0) }
            // The lease ends when the body is done or, if it never runs (the client left before the
            // headers went out), when the body is dropped.
            guard let lease = streams.open(party) else {
                throw Problem(status: .tooManyRequests, code: "notifications.too_many_streams",
                              detail: "\(party) already holds \(notificationStreamsPerParty) notification streams on this node; close one", retryAfter: 5)
            }
            let body = ResponseBody { writer in
                try await streamNotifications(of: party, after: start, request: request, gate: gate, into: &writer)
                try await writer.finish(nil)
                lease.end()
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
        }

        // Deeds and pledges: a session of a party to them, or of an authority.
        router.get("/v1/deeds/:id") { request, context in
            let id = try transactionID(context)
            guard let deed = try await node.deed(id) else { throw Problem(status: .notFound, code: "deed.unknown", detail: "no deed \(id)") }
            try await gate.requireInvolved(deed.parties + [deed.attestedBy].compactMap { $0 }, request: request)
            return try json(deed)
        }
        // The registrars' review list: pledges proposed or signed, not yet registered or rejected.
        router.get("/v1/pledges") { request, _ in
            _ = try await gate.requireRole(.registrar, request: request, for: "the list of pledges under review")
            var after: (height: UInt64, position: Int)?
            if let text = request.uri.queryParameters.get("after") {
                let parts = text.split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count == 2, let height = UInt64(parts[0]), let position = Int(parts[1]), position >= 0 else {
                    throw Problem(status: .badRequest, code: "request.bad_cursor", detail: "after is a cursor from a previous page's next")
                }
                after = (height, position)
            }
            let page = try await node.pledgesUnderReview(after: after, limit: try pageLimit(request))
            return try json(Page(items: page.pledges, next: page.next.map { "\($0.height).\($0.position)" }))
        }
        router.get("/v1/pledges/:id") { request, context in
            let id = try transactionID(context)
            guard let pledge = try await node.pledge(id) else { throw Problem(status: .notFound, code: "pledge.unknown", detail: "no pledge \(id)") }
            let owners = try await node.passport(pledge.cadastralNumber)?.owners.map(\.party) ?? []
            try await gate.requireInvolved([pledge.bank] + owners, request: request)
            return try json(pledge)
        }
        router.get("/v1/pledges/:id/certificate") { request, context in
            let id = try transactionID(context)
            guard let pledge = try await node.pledge(id) else { throw Problem(status: .notFound, code: "pledge.unknown", detail: "no pledge \(id)") }
            let owners = try await node.passport(pledge.cadastralNumber)?.owners.map(\.party) ?? []
            try await gate.requireInvolved([pledge.bank] + owners, request: request)
            guard pledge.status == .registered else {
                throw Problem(status: .conflict, code: "pledge.not_registered", detail: "pledge \(id) is \(pledge.status.rawValue); a certificate is issued for a registered pledge")
            }
            guard let parts = try await node.extractParts(pledge.cadastralNumber) else {
                throw Problem(status: .serviceUnavailable, code: "extract.no_block_yet", detail: "the pledge was registered after the last block; try again in a moment")
            }
            let extract = try Extract(cadastralNumber: pledge.cadastralNumber, record: parts.value, proof: parts.proof, header: parts.header, commit: parts.commit,
                                      validatorHandovers: node.validatorHandovers)
            try node.recordIssuedExtract(code: extract.verificationHash, cadastralNumber: pledge.cadastralNumber, height: parts.header.height,
                                         json: try Answer(extract).body)
            return Response(status: .ok, headers: HeadersMiddleware.htmlHeaders, body: .init(byteBuffer: ByteBuffer(
                string: ExtractPage.pledgeCertificate(pledge, extract: extract, blockTime: parts.header.time,
                                                      verifyAddress: verifier(request, node: node) + "?code=\(extract.verificationCode)"))))
        }

        router.get("/v1/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: openAPIDocument)))
        }
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            metrics?.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    /// Admits an envelope sent as JSON, and with `wait`, answers once it is final. A transaction
    /// that is already committed is answered with its receipt (200), not admitted again. The
    /// submitter may see the receipt: it holds the envelope.
    static func submit(_ body: ByteBuffer, wait: Bool, gate: Gate) async throws -> Answer {
        let envelope: SignedEnvelope
        do {
            envelope = try JSONDecoder().decode(SignedEnvelope.self, from: Data(body.readableBytesView))
        } catch {
            throw Problem(status: .badRequest, code: "request.malformed", detail: "the body is not a signed envelope: \(describe(error))")
        }
        let transaction = PreparedTransaction(envelope)
        let signer = try? transaction.payload.get().signer
        if let signer { try gate.checkSubmissionBudget(of: signer) }
        let id = transaction.id
        var status: TransactionStatus
        do {
            status = try await gate.node.submission(transaction).status
            if let signer { gate.spendSubmission(by: signer) }
        } catch let rejection as Rejection {
            throw Problem(status: .unprocessableContent, code: rejection.code, detail: rejection.message)
        } catch let error as MempoolError {
            switch error {
            case .duplicate, .nonceTaken: throw Problem(status: .conflict, code: error.code, detail: error.message)
            case .full, .senderFull: throw Problem(status: .serviceUnavailable, code: error.code, detail: error.message, retryAfter: 1)
            case .tooLarge, .expiresTooLate, .feesExceedBalance: throw Problem(status: .unprocessableContent, code: error.code, detail: error.message)
            }
        }
        if wait, status == .pending {
            if let stored = try await gate.node.waitForCommit(id, timeout: .seconds(commitWaitSeconds)) {
                status = .committed(stored)
            } else {
                // Dropped from the mempool while waiting is an answer too, with its reason.
                let after = try await gate.node.status(of: id)
                guard case .dropped = after else {
                    throw Problem(status: .gatewayTimeout, code: "tx.not_final_yet",
                                  detail: "transaction \(id) was accepted but is not final after \(commitWaitSeconds) s; ask GET /v1/transactions/\(id)")
                }
                status = after
            }
        }
        return try Answer(TransactionBody(id: id, status: status, showingReceipt: true), status: status == .pending ? .accepted : .ok)
    }

    static func pageLimit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 100 }
        guard let limit = Int(text), (1...Limits.pageSizeMax).contains(limit) else {
            throw Problem(status: .badRequest, code: "request.bad_limit", detail: "limit is 1 to \(Limits.pageSizeMax)")
        }
        return limit
    }

    static func cursor(_ request: Request) throws -> EventCursor? {
        guard let text = request.uri.queryParameters.get("after") else { return nil }
        guard let cursor = EventCursor(text: String(text)) else {
            throw Problem(status: .badRequest, code: "request.bad_cursor", detail: "after is a cursor from a previous page's next")
        }
        return cursor
    }

    /// One page of the events naming `subject`, after the request's cursor.
    static func eventPage(about subject: String, request: Request, node: Node) async throws -> Page<EventBody> {
        let limit = try pageLimit(request)
        let events = try await node.events(about: subject, after: try cursor(request), limit: limit)
        return Page(items: events.map(EventBody.init), next: events.count == limit ? events.last?.cursor.text : nil)
    }

    /// The portal's verifier on the node the request reached, as printed on extracts and certificates.
    static func verifier(_ request: Request, node: Node) -> String {
        "\(node.config.apiTLS == nil ? "http" : "https")://\(request.head.authority ?? "\(node.config.apiHost):\(node.config.apiPort)")/#/verify"
    }

    /// `?height=H`: the state that block H's header names.
    static func blockHeight(_ request: Request) throws -> Height? {
        guard let text = request.uri.queryParameters.get("height") else { return nil }
        guard let value = UInt64(text), value >= 1 else {
            throw Problem(status: .badRequest, code: "request.bad_height", detail: "height is a whole number from 1")
        }
        return Height(value)
    }

    /// Runs a read of a past state, turning `HistoryError` into a problem.
    static func history<T>(_ read: () async throws -> T) async throws -> T {
        do {
            return try await read()
        } catch let error as HistoryError {
            throw Problem(status: .notFound, code: error.code, detail: error.message)
        }
    }

    static func transactionID(_ context: APIRequestContext) throws -> TransactionID {
        guard let hash = Hash(hex: context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "request.bad_id", detail: "an id is 64 hex characters")
        }
        return TransactionID(hash: hash)
    }

    static func cadastralNumber(_ context: APIRequestContext) throws -> CadastralNumber {
        let text = context.parameters.get("cadastralNumber") ?? ""
        guard let number = try? CadastralNumber(text) else {
            throw Problem(status: .badRequest, code: "request.bad_cadastral_number", detail: "\(text.prefix(40)) is not a cadastral number")
        }
        return number
    }

    static func unknownProperty(_ number: CadastralNumber) -> Problem {
        Problem(status: .notFound, code: "property.unknown", detail: "no registered property \(number)")
    }

    static func collectBody(_ request: Request) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: requestBytesMax)
        } catch {
            throw Problem(status: .contentTooLarge, code: "request.too_large", detail: "the body exceeds \(requestBytesMax) bytes")
        }
    }

    static func decodeBody<T: Decodable>(_ request: Request) async throws -> T {
        let body = try await collectBody(request)
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw Problem(status: .badRequest, code: "request.malformed", detail: "the body does not decode: \(describe(error))")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try Answer(value, status: status).response
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "missing field \(key.stringValue)"
        case let DecodingError.dataCorrupted(context): context.debugDescription
        case let DecodingError.typeMismatch(_, context): "field \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case let error as any CodedError: error.message
        default: "\(error)"
        }
    }
}

/// An RFC 9457 problem: the HTTP status, the stable code, and what happened.
public struct Problem: Error, Encodable, Sendable {
    public let type: String
    public let title: String
    public let status: Int
    public let code: String
    public let detail: String
    /// Sent as `Retry-After` (seconds), for 429 and 503.
    public let retryAfter: Int?

    public init(status: HTTPResponse.Status, code: String, detail: String, retryAfter: Int? = nil) {
        self.type = "https://tamga.example/problems/\(code)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
    }

    private enum CodingKeys: String, CodingKey { case type, title, status, code, detail }
}

/// Turns every error into problem+json: `Problem`s as they are, Hummingbird's own HTTP errors
/// (unknown route, wrong method) with a code, and anything else as a 500 that hides internals.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return Self.response(problem)
        } catch let busy as NodeBusy {
            return Self.response(Problem(status: .serviceUnavailable, code: busy.code, detail: busy.message, retryAfter: 2))
        } catch let error as any HTTPResponseError {
            let code = error.status == .notFound ? "request.not_found" : error.status == .methodNotAllowed ? "request.method_not_allowed" : "request.invalid"
            return Self.response(Problem(status: error.status, code: code, detail: "\(request.method) \(request.uri.path): \(error.status.reasonPhrase)"))
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return Self.response(Problem(status: .internalServerError, code: "server.internal", detail: "the node could not answer; its log says why"))
        }
    }

    static func response(_ problem: Problem) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(problem)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter = problem.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

