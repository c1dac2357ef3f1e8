import ArgumentParser
import Foundation
import NIOHTTP1
import TamgaCore
import TamgaLedger

/// Options every client command shares.
struct NodeOptions: ParsableArguments {
    @Option(help: "The node's API.")
    var node = "http://127.0.0.1:8080"

    @Option(help: "A PEM file of certificates to trust for an https node (its api.crt, or the organization's CA), beside the system's.")
    var cacert: String?

    @Flag(help: "Print the node's JSON as it is, for scripts.")
    var json = false
}

/// Runs one request against a node and prints the answer: JSON as is with --json, otherwise one
/// `field: value` line per top-level field. A problem answer becomes the command's error.
func runRequest(_ options: NodeOptions, _ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: Data? = nil) async throws {
    let data = try await NodeClient.with(options) { try await $0.request(path, method: method, headers: headers, body: body) }
    if !options.json, let fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) { print("\(key): \(describe(value))") }
    } else {
        print(String(decoding: data, as: UTF8.self))
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
        subcommands: [Status.self, Block.self, Transaction.self, Encumbrances.self, Offers.self, Passport.self, History.self,
                      Account.self, Notifications.self, Deed.self, Pledge.self, Pledges.self]
    )

    struct Pledges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pledges waiting for a registrar's review, oldest first (a registrar's session).")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        @Option(help: "The `next` of the previous page.") var after: String?
        func run() async throws {
            _ = try session.requiredParty()
            let query = after.map { "&after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["."])) ?? "")" } ?? ""
            try await runRequest(options, "/v1/pledges?limit=100\(query)", headers: try await session.headers(node: options))
        }
    }

    struct Offers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Properties listed for sale now.")
        @OptionGroup var options: NodeOptions
        @Option(help: "Start after this cadastral number (the previous page's next).") var after: String?
        func run() async throws { try await runRequest(options, "/v1/offers" + (after.map { "?after=\($0)" } ?? "")) }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every event that named a property (access code, or a session of an owner or authority).")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        @Argument(help: "The cadastral number.") var cadastralNumber: String
        func run() async throws {
            try await runRequest(options, "/v1/properties/\(cadastralNumber)/history", headers: try await session.headers(node: options))
        }
    }

    struct Account: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A party's token account (a session of that party).")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await runRequest(options, "/v1/parties/\(try session.requiredParty())/account", headers: try await session.headers(node: options))
        }
    }

    struct Notifications: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Events naming a party and reads of its passports by others (a session of that party).")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await runRequest(options, "/v1/parties/\(try session.requiredParty())/notifications", headers: try await session.headers(node: options))
        }
    }

    struct Deed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A deed (a session of a party to it or of an authority).")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        @Argument(help: "The deed id (the id of the transaction that opened it).") var id: String
        func run() async throws { try await runRequest(options, "/v1/deeds/\(id)", headers: try await session.headers(node: options)) }
    }

    struct Pledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A pledge (a session of its bank, an owner or an authority).")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        @Argument(help: "The pledge id (the id of the proposal).") var id: String
        func run() async throws { try await runRequest(options, "/v1/pledges/\(id)", headers: try await session.headers(node: options)) }
    }

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
        @OptionGroup var session: SessionOptions
        @Argument(help: "The cadastral number.") var cadastralNumber: String
        @Option(help: "The state that block's header names (default: the latest).") var height: UInt64?
        func run() async throws {
            try await runRequest(options, "/v1/properties/\(cadastralNumber)" + (height.map { "?height=\($0)" } ?? ""),
                                 headers: try await session.headers(node: options))
        }
    }
}

/// How a private read proves who asks: a passport's access code, or a session opened by signing
/// the node's challenge with a party's key file.
struct SessionOptions: ParsableArguments {
    @Option(help: "The passport's access code.") var accessCode: String?
    @Option(help: "A key file to open a session with (with --party).") var key: String?
    @Option(help: "The party whose session it is.") var party: String?

    func requiredParty() throws -> String {
        guard let party, key != nil else { throw ValidationError("this needs --party and --key (a session of that party)") }
        return party
    }

    func headers(node: NodeOptions) async throws -> [(String, String)] {
        if let accessCode { return [("X-Access-Code", accessCode)] }
        guard let key, let party else { return [] }
        let signingKey = try KeyFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: key))))
        let token = try await NodeClient.with(node) { try await $0.openSession(party: party, key: signingKey) }
        return [("Authorization", "Bearer \(token)")]
    }
}

struct TxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tx",
        abstract: "Build, sign and submit transactions; each prints its receipt once final.",
        subcommands: [Enroll.self, Register.self, AccessCode.self, Mint.self, Burn.self, Transfer.self, List.self, Withdraw.self, Buy.self,
                      DeedPropose.self, DeedSign.self, DeedAttest.self, DeedConfirmPayment.self, DeedCancel.self, PledgePropose.self, PledgeSign.self, PledgeRegister.self,
                      PledgeReject.self, PledgeRelease.self, ArrestImpose.self, ArrestLift.self, CourtInvalidate.self, CourtTransfer.self,
                      KeyAdd.self, KeyRevoke.self, RecoveryRequest.self, RecoveryStep.self, GovernancePropose.self, GovernanceApprove.self, Send.self]
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

        @OptionGroup var signer: SignerOptions
        @Option(help: "The transaction type, such as token.transfer or property.register.") var type: String
        @Option(help: "The body, as JSON.") var body: String

        func run() async throws {
            guard let bodyObject = try? JSONSerialization.jsonObject(with: Data(body.utf8)) else { throw CommandFailure("--body is not JSON") }
            // The body is checked strictly by decoding the whole payload, whose canonical encoding is then signed.
            let template = try await signer.payload(for: .burn(TamgaLedger.Burn(amount: Tiyn.zero)))
            let object: [String: Any] = ["chainId": template.chainID.rawValue, "signer": template.signer.rawValue, "nonce": template.nonce,
                                         "fee": template.fee.rawValue, "expiresAt": template.expiresAt.rawValue, "type": type, "body": bodyObject]
            try await signer.submit(try TransactionPayload.decode(Array(try JSONSerialization.data(withJSONObject: object))))
        }
    }
}
