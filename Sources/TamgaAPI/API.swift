public import Foundation
public import Hummingbird
public import Logging
import NIOCore
public import Prometheus
import TamgaConsensus
public import TamgaCore
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

    public static func router(node: Node, metrics: PrometheusCollectorRegistry?) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.get("/v1/status") { _, _ in
            try json(StatusBody(await node.status()))
        }
        router.post("/v1/transactions") { request, _ in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: requestBytesMax)
            } catch {
                throw Problem(status: .contentTooLarge, code: "request.too_large", detail: "the body exceeds \(requestBytesMax) bytes")
            }
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
            guard request.uri.queryParameters.get("wait") == "commit" else {
                return try json(TransactionBody(id: id, status: "pending", stored: nil), status: .accepted)
            }
            guard let stored = try await node.waitForCommit(id, timeout: .seconds(commitWaitSeconds)) else {
                throw Problem(status: .gatewayTimeout, code: "tx.not_final_yet",
                              detail: "transaction \(id) was accepted but is not final after \(commitWaitSeconds) s; ask GET /v1/transactions/\(id)")
            }
            return try json(TransactionBody(id: id, status: stored.receipt.isCommitted ? "committed" : "rejected", stored: stored))
        }
        router.get("/v1/transactions/:id") { _, context in
            let text = context.parameters.get("id") ?? ""
            guard let hash = Hash(hex: text) else {
                throw Problem(status: .badRequest, code: "request.bad_id", detail: "a transaction id is 64 hex characters")
            }
            let id = TransactionID(hash: hash)
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
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            metrics?.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
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

// MARK: Response bodies

struct StatusBody: Encodable {
    struct ValidatorBody: Encodable {
        let index: UInt16
        let name: String
        let publicKey: PublicKey
        let votingPower: UInt64
    }

    struct NodeBody: Encodable {
        let validator: UInt16
        let round: UInt32
        let connectedPeers: [UInt16]
        let mempoolTransactions: Int
        let mempoolBytes: Int
        /// The process's peak resident memory (VmHWM), from /proc; nil where there is none.
        let peakMemoryBytes: UInt64?
    }

    let chainId: String
    let genesisHash: Hash
    let height: UInt64
    let latestBlockHash: Hash
    let latestBlockTime: UInt64
    let stateRoot: Hash
    let validators: [ValidatorBody]
    let node: NodeBody

    init(_ status: NodeStatus) {
        chainId = status.chainID.rawValue
        genesisHash = status.genesisHash
        height = status.height.rawValue
        latestBlockHash = status.latestBlockHash
        latestBlockTime = status.latestBlockTime.rawValue
        stateRoot = status.stateRoot
        validators = status.validators.enumerated().map {
            ValidatorBody(index: UInt16($0.offset), name: $0.element.name, publicKey: $0.element.publicKey, votingPower: $0.element.votingPower)
        }
        node = NodeBody(validator: status.validator.rawValue, round: status.round.rawValue, connectedPeers: status.connectedPeers.map(\.rawValue),
                        mempoolTransactions: status.mempoolTransactions, mempoolBytes: status.mempoolBytes, peakMemoryBytes: peakMemoryBytes())
    }
}

/// VmHWM from /proc/self/status, in bytes.
func peakMemoryBytes() -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = UInt64(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes * 1_024
}

/// The public part of a party: roles, keys (needed to check its signatures) and its last nonce.
/// Names and identity commitments are not public.
struct PartyBody: Encodable {
    let id: PartyID
    let roles: [Role]
    let keys: [PublicKey]
    let nonce: UInt64
}

struct TransactionBody: Encodable {
    let id: TransactionID
    let status: String
    let height: UInt64?
    let position: Int?
    let receipt: Receipt?

    init(id: TransactionID, status: String, stored: StoredReceipt?) {
        self.id = id
        self.status = status
        height = stored?.height.rawValue
        position = stored?.position
        receipt = stored?.receipt
    }
}

struct BlockBody: Encodable {
    struct HeaderBody: Encodable {
        let height: UInt64
        let hash: Hash
        let time: UInt64
        let previousBlockHash: Hash
        let lastCommitHash: Hash
        let transactionsRoot: Hash
        let evidenceRoot: Hash
        let stateRoot: Hash
        let validatorSetHash: Hash
        let proposer: UInt16
    }

    struct CommitBody: Encodable {
        let round: UInt32
        let signatures: [SignatureBody]
    }

    struct SignatureBody: Encodable {
        let validator: UInt16
        let timestamp: UInt64
        let signature: String
    }

    struct TransactionEntry: Encodable {
        let id: TransactionID
        let status: String
        let rejectionCode: String?
    }

    let header: HeaderBody
    let transactions: [TransactionEntry]
    let evidence: Int
    /// The commit that finalized this block.
    let commit: CommitBody

    init(block: Block, commit: Commit, receipts: [Receipt]) {
        let header = block.header
        self.header = HeaderBody(
            height: header.height.rawValue, hash: block.hash, time: header.time.rawValue, previousBlockHash: header.previousBlockHash,
            lastCommitHash: header.lastCommitHash, transactionsRoot: header.transactionsRoot, evidenceRoot: header.evidenceRoot,
            stateRoot: header.stateRoot, validatorSetHash: header.validatorSetHash, proposer: header.proposer.rawValue)
        transactions = receipts.map { TransactionEntry(id: $0.transaction, status: $0.isCommitted ? "committed" : "rejected", rejectionCode: $0.rejectionCode) }
        evidence = block.evidence.count
        self.commit = CommitBody(round: commit.round.rawValue, signatures: commit.signatures.map {
            SignatureBody(validator: $0.validator.rawValue, timestamp: $0.timestamp.rawValue, signature: Hex.encode($0.signature.bytes))
        })
    }
}
