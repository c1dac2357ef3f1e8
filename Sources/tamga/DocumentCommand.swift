import ArgumentParser
import Foundation
import NIOHTTP1
import TamgaCore

/// `tamga document`: source documents (title documents, loan contracts, court orders, payment
/// orders) kept by a node under their SHA-256, for institutions that work from the command line.
struct DocumentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document",
        abstract: "Upload a source document to a node, or download one (a session opened with --party and --key).",
        subcommands: [Upload.self, Download.self])

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a PDF, JPEG or PNG; prints its SHA-256, which the transaction that cites it names.")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        @Argument(help: "The file.") var file: String
        func run() async throws {
            _ = try session.requiredParty()
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            let type = switch URL(fileURLWithPath: file).pathExtension.lowercased() {
            case "pdf": "application/pdf"
            case "png": "image/png"
            case "jpg", "jpeg": "image/jpeg"
            default: throw ValidationError("a document is a .pdf, .png, .jpg or .jpeg file")
            }
            try await runRequest(options, "/v1/documents", method: .POST,
                                 headers: try await session.headers(node: options) + [("Content-Type", type)], body: bytes)
        }
    }

    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a document the session may read, checked against its name before it is written.")
        @OptionGroup var options: NodeOptions
        @OptionGroup var session: SessionOptions
        @Argument(help: "The document's SHA-256 (64 hex).") var hash: String
        @Option(help: "Where to write it.") var out: String
        func run() async throws {
            _ = try session.requiredParty()
            guard let expected = Hash(hex: hash) else { throw ValidationError("a document is named by its SHA-256: 64 hex characters") }
            let headers = try await session.headers(node: options)
            let bytes = try await NodeClient.with(options) { try await $0.request("/v1/documents/\(expected.hex)", headers: headers) }
            guard Hash.sha256(Array(bytes)) == expected else { throw CommandFailure("the node sent bytes that do not hash to \(expected.hex); nothing written") }
            try bytes.write(to: URL(fileURLWithPath: out))
            print("\(expected.hex): \(bytes.count) bytes written to \(out)")
        }
    }
}
