import Foundation
import HTTPTypes
public import Hummingbird
public import NIOCore
import TamgaConsensus
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaStorage

/// The API's request context: Hummingbird's, plus the client's address, which rate limits and
/// idempotency keys are scoped by. Behind a reverse proxy this is the proxy's address; Tamga does
/// not trust forwarding headers.
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's address without its port ("unknown" when there is none).
    var client: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// Who may do what through the API: sessions (checked against the party's current keys and
/// roles on every use), access codes (with their attempt limits), the per-party submission
/// budget, and who may read a receipt.
struct Gate: Sendable {
    let node: Node
    let sessions: SessionStore
    let limiter: RateLimiter
    let limits: NodeConfig.RateLimits
    let guesses: AccessCodeGuard

    /// Parties whose role lets them read any passport or receipt (their passport reads are logged for the owners).
    static let authorities: Set<Role> = [.registrar, .notary, .bank, .court, .enforcement]

    /// The live session named by `Authorization: Bearer <token>`, nil without the header. A
    /// session whose key has been revoked, or whose party's roles changed, ends here.
    func session(_ request: Request) async throws -> SessionStore.Session? {
        guard let header = request.headers[.authorization] else { return nil }
        let token = String(header.dropFirst(7))
        guard header.hasPrefix("Bearer "), let session = sessions.session(token) else {
            throw Problem(status: .unauthorized, code: "auth.session_invalid", detail: "the session is unknown or expired; open a new one at POST /v1/auth/session")
        }
        guard let (record, _) = try await node.party(session.party), record.keys.contains(where: { $0.keyID == session.keyID }),
              Set(record.roles) == Set(session.roles)
        else {
            sessions.end(token)
            throw Problem(status: .unauthorized, code: "auth.session_revoked",
                          detail: "the key or the roles this session was opened with have changed; open a new session")
        }
        if let wait = limiter.spend("party \(session.party)", .init(perSecond: limits.readsPerSecond, burstSeconds: limits.burstSeconds)) {
            throw RateLimitMiddleware.tooMany(wait)
        }
        return session
    }

    /// Refuses a submission by a party that has used up its budget, without spending it: only a
    /// submission whose signatures verified spends (`spendSubmission`), so nobody can use up a
    /// party's budget by naming it as the signer of junk.
    func checkSubmissionBudget(of signer: PartyID) throws {
        if let wait = limiter.check(submissionKey(signer), submissionBudget) { throw RateLimitMiddleware.tooMany(wait) }
    }

    func spendSubmission(by signer: PartyID) {
        _ = limiter.spend(submissionKey(signer), submissionBudget)
    }

    private func submissionKey(_ signer: PartyID) -> String { "submit-party \(signer)" }
    private var submissionBudget: RateLimiter.Budget { .init(perSecond: limits.submissionsPerPartyPerSecond, burstSeconds: limits.burstSeconds) }

    /// A session of one of `parties`, or of an authority.
    func requireInvolved(_ parties: [PartyID], request: Request) async throws {
        guard let session = try await session(request) else {
            throw Problem(status: .unauthorized, code: "auth.required", detail: "this needs a session of a party to it or of an authority")
        }
        guard parties.contains(session.party) || !Self.authorities.isDisjoint(with: session.roles) else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "\(session.party) is not a party to this")
        }
    }

    /// The caller's session, if its party holds `role`; `what` says what the role is needed for.
    func requireRole(_ role: Role, request: Request, for what: String) async throws -> SessionStore.Session {
        guard let session = try await session(request) else {
            throw Problem(status: .unauthorized, code: "auth.required", detail: "\(what) needs a session of a party with the \(role.rawValue) role")
        }
        guard session.roles.contains(role) else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "\(what) needs the \(role.rawValue) role, which \(session.party) does not hold")
        }
        return session
    }

    /// The party in the path, if the caller's session is that party's.
    func requireSelf(_ request: Request, context: APIRequestContext) async throws -> PartyID {
        guard let party = try? PartyID(context.parameters.get("id") ?? "") else {
            throw Problem(status: .badRequest, code: "request.bad_party_id", detail: "not a party id")
        }
        guard let session = try await session(request) else {
            throw Problem(status: .unauthorized, code: "auth.required", detail: "this needs a session of \(party) (POST /v1/auth/challenge, then /v1/auth/session)")
        }
        guard session.party == party else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "a session of \(session.party) cannot read \(party)'s data")
        }
        return party
    }

    /// Whether the caller may see what a committed transaction did: a session of its signer, of
    /// a party its events name, or of an authority. Without a session: no (and no error).
    func mayReadReceipt(_ stored: StoredReceipt, request: Request) async throws -> Bool {
        guard let session = try await session(request) else { return false }
        if !Self.authorities.isDisjoint(with: session.roles) { return true }
        if stored.receipt.events.contains(where: { $0.parties.contains(session.party) }) { return true }
        guard let block = try node.block(at: stored.height)?.block, block.transactions.indices.contains(stored.position),
              case let .success(payload) = PreparedTransaction(block.transactions[stored.position]).payload
        else { return false }
        return payload.signer == session.party
    }

    /// A passport may be read with its access code (`X-Access-Code`), by a session of an owner, or
    /// by a session of an authority. Every read by someone other than an owner is logged for the
    /// owners, and so is every wrong code; after `AccessCodeGuard.freeAttempts` wrong codes the
    /// property's code is not even checked for a while (429 with `Retry-After`).
    func authorizePassportRead(_ passport: Passport, request: Request) async throws {
        let owners = passport.owners.map(\.party)
        let number = passport.cadastralNumber
        if let code = request.headers[HTTPField.Name("X-Access-Code")!] {
            // The try is counted before the code is checked, so concurrent guesses get no more tries.
            if let wait = guesses.reserve(number.rawValue) { throw Self.codeLocked(number, wait) }
            guard try await node.accessCodeOpens(number, code: code) else {
                try node.logPassportRead(number, owners: owners, reader: "a wrong access code")
                if let wait = guesses.lockedFor(number.rawValue) { throw Self.codeLocked(number, wait) }
                throw Problem(status: .forbidden, code: "auth.access_code_wrong", detail: "the access code does not open this passport")
            }
            guesses.succeeded(number.rawValue)
            try node.logPassportRead(number, owners: owners, reader: "access code")
            return
        }
        guard let session = try await session(request) else {
            throw Problem(status: .unauthorized, code: "auth.required",
                          detail: "the passport needs its access code (X-Access-Code) or a session of an owner or an authority")
        }
        if owners.contains(session.party) { return }
        guard !Self.authorities.isDisjoint(with: session.roles) else {
            throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "\(session.party) is neither an owner nor an authority")
        }
        try node.logPassportRead(number, owners: owners, reader: session.party.rawValue)
    }

    static func codeLocked(_ number: CadastralNumber, _ seconds: Int) -> Problem {
        Problem(status: .tooManyRequests, code: "auth.access_code_locked",
                detail: "too many wrong access codes for \(number); codes are not checked for \(seconds) s (owners read with a session)",
                retryAfter: seconds)
    }
}

/// Request budgets per client address, by kind of request (see `NodeConfig.RateLimits`).
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let limiter: RateLimiter
    let limits: NodeConfig.RateLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let (kind, rate) = budget(request)
        if let wait = limiter.spend("\(kind) \(context.client)", .init(perSecond: rate, burstSeconds: limits.burstSeconds)) {
            throw Self.tooMany(wait)
        }
        return try await next(request, context)
    }

    func budget(_ request: Request) -> (String, Double) {
        let path = HeadersMiddleware.normalized(request.uri.path)
        if request.method == .post, path.hasPrefix("/v1/auth/") { return ("auth", limits.authPerSecond) }
        if request.method == .post, path == "/v1/transactions" { return ("submit", limits.submissionsPerSecond) }
        if path == "/v1/blocks" || path == "/v1/offers" || path.hasSuffix("/history") || path.hasSuffix("/notifications")
            || path.hasSuffix("/extract") || path.hasSuffix("/proof") || path.hasSuffix("/deeds") || path.hasPrefix("/v1/extracts/") {
            return ("expensive", limits.expensiveReadsPerSecond)
        }
        return ("read", limits.readsPerSecond)
    }

    static func tooMany(_ seconds: Int) -> Problem {
        Problem(status: .tooManyRequests, code: "request.rate_limited", detail: "too many requests of this kind; try again in \(seconds) s", retryAfter: seconds)
    }
}

/// Headers on every answer: nothing under `/v1` is kept by a cache (answers are private or change
/// with every block), nothing is sniffed as another type, no referrer leaves, and HTML pages run
/// no script and cannot be framed.
struct HeadersMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    static let htmlHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]

    /// The path as the router reads it: empty segments (`//`, a trailing `/`) do not count.
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if Self.normalized(request.uri.path).hasPrefix("/v1/"), response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
