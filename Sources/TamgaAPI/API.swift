import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
public import Prometheus
import TamgaConsensus
import TamgaCore
import TamgaLedger
public import TamgaNode
import TamgaStorage

/// The node's HTTP API (JSON under `/v1`, Prometheus text under `/metrics`). Errors are RFC 9457
/// problem documents (`application/problem+json`) carrying the stable code of what went wrong.
public enum NodeAPI {
    /// The longest request body accepted (a signed envelope in JSON, base64 payload included).
    public static let requestBytesMax = 2 * Limits.envelopeBytesMax
    /// How long `POST /v1/transactions?wait=commit` waits for finality before answering 504.
    public static let commitWaitSeconds = 30

    /// Parties whose role lets them read any passport (their reads are logged for the owners).
    static let authorities: Set<Role> = [.registrar, .notary, .bank, .court, .enforcement]

    public static func router(node: Node, metrics: PrometheusCollectorRegistry?) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let sessions = SessionStore()
        let idempotency = IdempotencyStore()
        router.add(middleware: ProblemMiddleware())
        router.get("/v1/status") { _, _ in
            try json(StatusBody(await node.status()))
        }
        router.post("/v1/transactions") { request, _ in
            let body = try await collectBody(request)
            let wait = request.uri.queryParameters.get("wait") == "commit"
            guard let key = request.headers[HTTPField.Name("Idempotency-Key")!] else {
                return try await submit(body, wait: wait, node: node).response
            }
            // The query is part of what is asked: the same key with another `wait` is another request.
            let fingerprint = Hash.sha256(Array(body.readableBytesView) + Array("wait=\(wait)".utf8))
            return try await idempotency.answer(key: key, fingerprint: fingerprint) {
                try await submit(body, wait: wait, node: node)
            }.response
        }
        router.get("/v1/transactions/:id") { _, context in
            let id = try transactionID(context)
            switch try await node.status(of: id) {
            case .pending: return try json(TransactionBody(id: id, status: "pending", stored: nil))
            case let .committed(stored): return try json(TransactionBody(id: id, status: stored.receipt.isCommitted ? "committed" : "rejected", stored: stored))
            case .unknown: throw Problem(status: .notFound, code: "tx.unknown", detail: "this node knows no transaction \(id)")
            }
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
            let challenge = try await sessions.newChallenge()
            let chain = await node.genesis.chainID
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
            let (token, lifetime) = try await sessions.openSession(challenge: body.challenge, party: record, keyID: KeyID(hash: keyHash),
                                                                   signature: signature, chain: await node.genesis.chainID)
            return try json(SessionBody(token: token, party: record.id, roles: record.roles, expiresInSeconds: Int(lifetime.components.seconds)))
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
            try await authorizePassportRead(current, request: request, node: node, sessions: sessions)
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
            try await authorizePassportRead(passport, request: request, node: node, sessions: sessions)
            return try json(try await eventPage(about: "property/\(number)", request: request, node: node))
        }

        let extract: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, context in
            let number = try cadastralNumber(context)
            guard let passport = try await node.passport(number) else { throw unknownProperty(number) }
            try await authorizePassportRead(passport, request: request, node: node, sessions: sessions)
            let height = try blockHeight(request)
            guard let parts = try await history({ try await node.extractParts(number, atBlock: height) }) else {
                if height != nil { throw Problem(status: .notFound, code: "property.unknown", detail: "\(number) was not registered in that state") }
                throw Problem(status: .serviceUnavailable, code: "extract.no_block_yet", detail: "the property was registered after the last block; try again in a moment")
            }
            let extract = try Extract(cadastralNumber: number, record: parts.value, proof: parts.proof, header: parts.header, commit: parts.commit)
            guard request.uri.queryParameters.get("format") == "html" else { return try json(extract) }
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: ExtractPage.html(extract))))
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
            let party = try await requireSelf(request, context: context, sessions: sessions)
            return try json(PropertiesBody(party: party, properties: try await node.properties(of: party)))
        }
        router.get("/v1/parties/:id/account") { request, context in
            let party = try await requireSelf(request, context: context, sessions: sessions)
            let account = try await node.account(of: party)
            return try json(AccountBody(party: party, balance: account.balance, held: account.held))
        }
        router.get("/v1/parties/:id/notifications") { request, context in
            let party = try await requireSelf(request, context: context, sessions: sessions)
            let events = try await eventPage(about: "party/\(party)", request: request, node: node)
            let reads = try await node.passportReads(of: party, limit: Limits.pageSizeMax)
            return try json(NotificationsBody(events: events.items, next: events.next,
                                              passportReads: reads.map { PassportReadBody(cadastralNumber: $0.cadastralNumber, reader: $0.reader, at: $0.at.rawValue) }))
        }

        // Deeds and pledges: a session of a party to them, or of an authority.
        router.get("/v1/deeds/:id") { request, context in
            let id = try transactionID(context)
            guard let deed = try await node.deed(id) else { throw Problem(status: .notFound, code: "deed.unknown", detail: "no deed \(id)") }
            try await requireInvolved(deed.parties + [deed.attestedBy].compactMap { $0 }, request: request, sessions: sessions)
            return try json(deed)
        }
        router.get("/v1/pledges/:id") { request, context in
            let id = try transactionID(context)
            guard let pledge = try await node.pledge(id) else { throw Problem(status: .notFound, code: "pledge.unknown", detail: "no pledge \(id)") }
            let owners = try await node.passport(pledge.cadastralNumber)?.owners.map(\.party) ?? []
            try await requireInvolved([pledge.bank] + owners, request: request, sessions: sessions)
            return try json(pledge)
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

    /// Admits an envelope sent as JSON, and with `wait`, answers once it is final.
    static func submit(_ body: ByteBuffer, wait: Bool, node: Node) async throws -> Answer {
        let envelope: SignedEnvelope
        do {
            envelope = try JSONDecoder().decode(SignedEnvelope.self, from: Data(body.readableBytesView))
        } catch {
            throw Problem(status: .badRequest, code: "request.malformed", detail: "the body is not a signed envelope: \(describe(error))")
        }
        let id: TransactionID
        do {
            id = try await node.submit(envelope)
        } catch let rejection as Rejection {
            throw Problem(status: .unprocessableContent, code: rejection.code, detail: rejection.message)
        } catch let error as MempoolError {
            throw Problem(status: error == .duplicate(envelope.transactionID) ? .conflict : .serviceUnavailable, code: error.code, detail: error.message)
        }
        guard wait else {
            return try Answer(TransactionBody(id: id, status: "pending", stored: nil), status: .accepted)
        }
        guard let stored = try await node.waitForCommit(id, timeout: .seconds(commitWaitSeconds)) else {
            throw Problem(status: .gatewayTimeout, code: "tx.not_final_yet",
                          detail: "transaction \(id) was accepted but is not final after \(commitWaitSeconds) s; ask GET /v1/transactions/\(id)")
        }
        return try Answer(TransactionBody(id: id, status: stored.receipt.isCommitted ? "committed" : "rejected", stored: stored))
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

    static func transactionID(_ context: BasicRequestContext) throws -> TransactionID {
        guard let hash = Hash(hex: context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "request.bad_id", detail: "an id is 64 hex characters")
        }
        return TransactionID(hash: hash)
    }

    /// A session of one of `parties`, or of an authority.
    static func requireInvolved(_ parties: [PartyID], request: Request, sessions: SessionStore) async throws {
        guard let session = try await session(request, sessions: sessions) else {
            throw Problem(status: .unauthorized, code: "auth.required", detail: "this needs a session of a party to it or of an authority")
        }
        guard parties.contains(session.party) || !authorities.isDisjoint(with: session.roles) else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "\(session.party) is not a party to this")
        }
    }

    static func cadastralNumber(_ context: BasicRequestContext) throws -> CadastralNumber {
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

    /// The live session named by `Authorization: Bearer <token>`, nil without the header.
    static func session(_ request: Request, sessions: SessionStore) async throws -> SessionStore.Session? {
        guard let header = request.headers[.authorization] else { return nil }
        guard header.hasPrefix("Bearer "), let session = await sessions.session(String(header.dropFirst(7))) else {
            throw Problem(status: .unauthorized, code: "auth.session_invalid", detail: "the session is unknown or expired; open a new one at POST /v1/auth/session")
        }
        return session
    }

    /// The party in the path, if the caller's session is that party's.
    static func requireSelf(_ request: Request, context: BasicRequestContext, sessions: SessionStore) async throws -> PartyID {
        guard let party = try? PartyID(context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "request.bad_party_id", detail: "not a party id")
        }
        guard let session = try await session(request, sessions: sessions) else {
            throw Problem(status: .unauthorized, code: "auth.required", detail: "this needs a session of \(party) (POST /v1/auth/challenge, then /v1/auth/session)")
        }
        guard session.party == party else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "a session of \(session.party) cannot read \(party)'s data")
        }
        return party
    }

    /// A passport may be read with its access code (`X-Access-Code`), by a session of an owner, or
    /// by a session of an authority. Every read by someone other than an owner is logged for the owners.
    static func authorizePassportRead(_ passport: Passport, request: Request, node: Node, sessions: SessionStore) async throws {
        let owners = passport.owners.map(\.party)
        if let code = request.headers[HTTPField.Name("X-Access-Code")!] {
            guard try await node.accessCodeOpens(passport.cadastralNumber, code: code) else {
                throw Problem(status: .forbidden, code: "auth.access_code_wrong", detail: "the access code does not open this passport")
            }
            try await node.logPassportRead(passport.cadastralNumber, owners: owners, reader: "access code")
            return
        }
        guard let session = try await session(request, sessions: sessions) else {
            throw Problem(status: .unauthorized, code: "auth.required",
                          detail: "the passport needs its access code (X-Access-Code) or a session of an owner or an authority")
        }
        if owners.contains(session.party) { return }
        guard !authorities.isDisjoint(with: session.roles) else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "\(session.party) is neither an owner nor an authority")
        }
        try await node.logPassportRead(passport.cadastralNumber, owners: owners, reader: session.party.rawValue)
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

    public init(status: HTTPResponse.Status, code: String, detail: String) {
        self.type = "https://tamga.example/problems/\(code)"
        self.title = status.reasonPhrase
        self.status = status.code
        self.code = code
        self.detail = detail
    }
}

/// Turns every error into problem+json: `Problem`s as they are, Hummingbird's own HTTP errors
/// (unknown route, wrong method) with a code, and anything else as a 500 that hides internals.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return Self.response(problem)
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
        return Response(status: .init(code: problem.status), headers: [.contentType: "application/problem+json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

