import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TamgaCore
import TamgaLedger

/// Options every client command shares.
struct NodeOptions: ParsableArguments {
    @Option(help: "The node's API.")
    var node = "http://127.0.0.1:8080"

    @Flag(help: "Print the node's JSON as it is, for scripts.")
    var json = false
}

/// Runs one request against a node and prints the answer: JSON as is with --json, otherwise one
/// `field: value` line per top-level field. A problem answer becomes the command's error.
func runRequest(_ options: NodeOptions, _ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: Data? = nil) async throws {
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    do {
        var request = HTTPClientRequest(url: options.node + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .seconds(60))
        let data = Data(try await response.body.collect(upTo: 64 * 1024 * 1024).readableBytesView)
        try await http.shutdown()
        let object = try? JSONSerialization.jsonObject(with: data)
        guard (200..<300).contains(Int(response.status.code)) else {
            let problem = object as? [String: Any]
            throw CommandFailure("\(problem?["detail"] as? String ?? "the node answered \(response.status.code)") [\(problem?["code"] as? String ?? "")]")
        }
        if options.json {
            print(String(decoding: data, as: UTF8.self))
        } else if let fields = object as? [String: Any] {
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) { print("\(key): \(describe(value))") }
        } else {
            print(String(decoding: data, as: UTF8.self))
        }
    } catch {
        try? await http.shutdown()
        throw error
    }
}

private func describe(_ value: Any) -> String {
    if let text = value as? String { return text }
    if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]) {
        return String(decoding: data, as: UTF8.self)
    }
    return "\(value)"
}

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Read from a node: status, blocks, transactions, encumbrances, passports.",
        subcommands: [Status.self, Block.self, Transaction.self, Encumbrances.self, Passport.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The chain and the node.")
        @OptionGroup var options: NodeOptions
        func run() async throws { try await runRequest(options, "/v1/status") }
    }

    struct Block: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One block, with its transactions' outcomes and its commit.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The height.") var height: UInt64
        func run() async throws { try await runRequest(options, "/v1/blocks/\(height)") }
    }

    struct Transaction: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "tx", abstract: "A transaction's status and receipt.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The transaction id (64 hex).") var id: String
        func run() async throws { try await runRequest(options, "/v1/transactions/\(id)") }
    }

    struct Encumbrances: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The public check: is the property free, and if not, what encumbers it.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The cadastral number.") var cadastralNumber: String
        func run() async throws { try await runRequest(options, "/v1/properties/\(cadastralNumber)/encumbrances") }
    }

    struct Passport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A property's passport, opened with its access code.")
        @OptionGroup var options: NodeOptions
        @Argument(help: "The cadastral number.") var cadastralNumber: String
        @Option(help: "The passport's access code.") var accessCode: String
        func run() async throws {
            try await runRequest(options, "/v1/properties/\(cadastralNumber)", headers: [("X-Access-Code", accessCode)])
        }
    }
}

struct TxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tx",
        abstract: "Build, sign and submit transactions.",
        subcommands: [Send.self]
    )

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a transaction of any type with a key file, submit it and print the receipt once final.",
            discussion: """
                The body is the transaction type's JSON body, as docs/ledger.md lists it, for example
                  tamga tx send --key devnet/parties/citizen-1.key --party citizen-1 \\
                    --type token.transfer --body '{"to": "citizen-2", "amount": 10000}'
                The chain id, the next nonce and the minimum fee come from the node.
                """
        )

        @OptionGroup var options: NodeOptions
        @Option(help: "A key file to sign with: the signer's first; repeat for co-signers (such as a new key proving itself).") var key: [String]
        @Option(help: "The signing party's id.") var party: String
        @Option(help: "The transaction type, such as token.transfer or property.register.") var type: String
        @Option(help: "The body, as JSON.") var body: String
        @Option(help: "The fee in tiyn (default: the minimum, 100).") var fee: UInt64 = 100
        @Option(help: "Minutes until the transaction expires.") var expiresInMinutes: UInt64 = 60

        func run() async throws {
            let signingKeys = try key.map { try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: $0)))) }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let client = NodeClient(baseURL: options.node, http: http)
            let status: NodeClient.StatusReply?
            let nonce: UInt64?
            do {
                status = try await client.get("/v1/status", as: NodeClient.StatusReply.self)
                nonce = try await client.get("/v1/parties/\(party)", as: NodeClient.PartyReply.self)?.nonce
                try await http.shutdown()
            } catch {
                try? await http.shutdown()
                throw error
            }
            guard let status, let nonce else { throw CommandFailure("\(party) is not enrolled on \(options.node)") }
            guard let bodyObject = try? JSONSerialization.jsonObject(with: Data(body.utf8)) else { throw CommandFailure("--body is not JSON") }
            let expiry = UInt64(Date().timeIntervalSince1970 * 1_000) + expiresInMinutes * 60_000
            let object: [String: Any] = ["chainId": status.chainId, "signer": party, "nonce": nonce + 1, "fee": fee,
                                         "expiresAt": expiry, "type": type, "body": bodyObject]
            // Decoding checks the payload strictly; its canonical encoding is what gets signed.
            let payload = try TransactionPayload.decode(Array(try JSONSerialization.data(withJSONObject: object)))
            let envelope = try SignedEnvelope.signing(payload.encoded(), with: signingKeys)
            try await runRequest(options, "/v1/transactions?wait=commit", method: .POST,
                                 headers: [("Idempotency-Key", envelope.transactionID.description)], body: try JSONEncoder().encode(envelope))
        }
    }
}
