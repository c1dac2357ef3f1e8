import AsyncHTTPClient
import Foundation
import NIOSSL
import NIOCore
import NIOHTTP1
import TamgaCore
import TamgaLedger

/// A small client of one node's HTTP API, for the devnet and the benchmark.
struct NodeClient: Sendable {
    let baseURL: String
    let http: HTTPClient

    struct StatusReply: Decodable {
        struct NodeReply: Decodable {
            let validator: UInt16
            let peakMemoryBytes: UInt64?
            let mempoolTransactions: Int
        }

        let chainId: String
        let height: UInt64
        let latestBlockTime: UInt64
        let node: NodeReply
    }

    struct PartyReply: Decodable {
        let nonce: UInt64
    }

    struct BlockReply: Decodable {
        struct Header: Decodable {
            let height: UInt64
            let time: UInt64
            let hash: String
            let stateRoot: String
        }

        struct Entry: Decodable {
            let id: String
            let status: String
            let rejectionCode: String?
        }

        let header: Header
        let transactions: [Entry]
    }

    struct TransactionReply: Decodable {
        struct ReceiptReply: Decodable {
            let rejectionCode: String?
            let rejectionMessage: String?
        }

        let id: String
        let status: String
        let height: UInt64?
        let receipt: ReceiptReply?
    }

    struct ProblemReply: Decodable {
        let code: String
        let detail: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `body` with a client of the node `options` name (trusting `--cacert` too, for an
    /// https node), and shuts the client down after it.
    static func with<T>(_ options: NodeOptions, _ body: (NodeClient) async throws -> T) async throws -> T {
        var configuration = HTTPClient.Configuration()
        if let cacert = options.cacert {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(cacert))]
            } catch {
                throw CommandFailure("cannot read the certificates in \(cacert): \(error)")
            }
            configuration.tlsConfiguration = tls
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(NodeClient(baseURL: options.node, http: http))
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T? {
        let (status, body) = try await send(path, method: .GET, body: nil)
        if status == 404 { return nil }
        return try decode(status, body, as: T.self)
    }

    func submit(_ envelope: SignedEnvelope, waitForCommit: Bool) async throws -> TransactionReply {
        let (status, reply) = try await send("/v1/transactions" + (waitForCommit ? "?wait=commit" : ""), method: .POST,
                                             body: try JSONEncoder().encode(envelope))
        return try decode(status, reply, as: TransactionReply.self)
    }

    /// Opens a session for `party` by signing the node's challenge with `key`; returns its token.
    func openSession(party: String, key: SigningKey) async throws -> String {
        func post(_ path: String, _ body: [String: String]) async throws -> [String: Any] {
            let reply = try await request(path, method: .POST, body: try JSONEncoder().encode(body))
            return (try? JSONSerialization.jsonObject(with: reply)) as? [String: Any] ?? [:]
        }
        let challenge = try await post("/v1/auth/challenge", [:])
        guard let text = challenge["signText"] as? String, let nonce = challenge["challenge"] as? String else { throw CommandFailure("the node sent no challenge") }
        let session = try await post("/v1/auth/session", [
            "party": party, "keyId": key.publicKey.keyID.description, "challenge": nonce,
            "signature": Hex.encode(key.sign(Array(text.utf8)).bytes),
        ])
        guard let token = session["token"] as? String else { throw CommandFailure("the node opened no session") }
        return token
    }

    /// The body of a successful answer; any other answer is a `Failure` naming the problem.
    func request(_ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: Data? = nil) async throws -> Data {
        let (status, reply) = try await send(path, method: method, headers: headers, body: body)
        try check(status, reply)
        return reply
    }

    private func send(_ path: String, method: HTTPMethod, headers: [(String, String)] = [], body: Data?) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            if !request.headers.contains(name: "Content-Type") { request.headers.add(name: "Content-Type", value: "application/json") }
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return (Int(response.status.code), Data(bytes.readableBytesView))
    }

    private func check(_ status: Int, _ body: Data) throws {
        guard !(200..<300).contains(status) else { return }
        if let problem = try? JSONDecoder().decode(ProblemReply.self, from: body) {
            throw Failure(description: "\(baseURL) answered \(status): \(problem.detail) [\(problem.code)]")
        }
        throw Failure(description: "\(baseURL) answered \(status)")
    }

    private func decode<T: Decodable>(_ status: Int, _ body: Data, as type: T.Type) throws -> T {
        try check(status, body)
        return try JSONDecoder().decode(T.self, from: body)
    }
}

/// A party's key with the nonce of its next transaction, for signing transactions.
final class Wallet: @unchecked Sendable {
    let id: PartyID
    let key: SigningKey
    private let lock = NSLock()
    private var lastNonce: UInt64

    init(id: PartyID, key: SigningKey, lastNonce: UInt64) {
        self.id = id
        self.key = key
        self.lastNonce = lastNonce
    }

    /// Loads `parties/<id>.key` from a network folder and asks the node for the party's nonce.
    static func load(_ id: String, network: URL, client: NodeClient) async throws -> Wallet {
        let url = network.appendingPathComponent("parties").appendingPathComponent("\(id).key")
        let key = try KeyFile.decode(Array(try Data(contentsOf: url)))
        let party = try PartyID(id)
        let nonce = try await client.get("/v1/parties/\(id)", as: NodeClient.PartyReply.self)?.nonce ?? 0
        return Wallet(id: party, key: key, lastNonce: nonce)
    }

    /// Signs `action` with the next nonce, valid for an hour.
    func sign(_ action: Action, chain: ChainID, fee: Tiyn = Tiyn(100)) throws -> SignedEnvelope {
        let nonce = lock.withLock {
            lastNonce += 1
            return lastNonce
        }
        let expiry = Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + 3_600_000)
        let payload = TransactionPayload(chainID: chain, signer: id, nonce: nonce, fee: fee, expiresAt: expiry, action: action)
        return try SignedEnvelope.signing(payload.encoded(), with: [key])
    }
}
