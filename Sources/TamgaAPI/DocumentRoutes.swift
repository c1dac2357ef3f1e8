import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaStorage

/// Source documents: `POST /v1/documents` keeps an upload by its SHA-256; `GET
/// /v1/documents/{hash}` serves it to the parties and authorities of the records that cite it.
enum DocumentRoutes {
    /// Roles that review documents on any record (a bank reads only the records it is party to).
    static let readers: Set<Role> = [.registrar, .notary, .court, .enforcement]
    /// How long a read waits for the peers to send a cited document this node does not hold.
    static let peerWait = Duration.seconds(5)

    static func add(to router: Router<APIRequestContext>, node: Node, gate: Gate) {
        router.post("/v1/documents") { request, _ in
            guard let session = try await gate.session(request) else {
                throw Problem(status: .unauthorized, code: "auth.required", detail: "uploading a document needs a session of an enrolled party")
            }
            try gate.checkSubmissionBudget(of: session.party)
            let declared = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: Limits.documentBytesMax)
            } catch {
                throw Problem(status: .contentTooLarge, code: "document.too_large", detail: "a document is at most \(Limits.documentBytesMax) bytes")
            }
            let hash: Hash
            do {
                hash = try node.uploadDocument(Array(body.readableBytesView), mediaType: declared, by: session.party)
            } catch let error as DocumentError {
                throw Problem(status: error == .empty ? .badRequest : .unsupportedMediaType, code: error.code, detail: error.message)
            }
            gate.spendSubmission(by: session.party)
            return try NodeAPI.json(DocumentBody(hash: hash, mediaType: declared, size: body.readableBytes), status: .created)
        }
        router.get("/v1/documents/:hash") { request, context in
            guard let hash = Hash(hex: context.parameters.get("hash") ?? "") else {
                throw Problem(status: .badRequest, code: "request.bad_hash", detail: "a document is named by its SHA-256: 64 hex characters")
            }
            guard let session = try await gate.session(request) else {
                throw Problem(status: .unauthorized, code: "auth.required", detail: "documents are for the parties and authorities of their records")
            }
            let citations = try node.citations(of: hash)
            let held = try await node.document(hash)
            guard held != nil || !citations.isEmpty else {
                throw Problem(status: .notFound, code: "document.unknown", detail: "no document \(hash) was uploaded here or cited on chain")
            }
            guard try await mayRead(session, held: held, citations: citations, node: node) else {
                throw Problem(status: .forbidden, code: "auth.not_allowed", detail: "\(session.party) is not a party to a record that cites this document")
            }
            var document = held
            if document == nil { document = try await node.document(hash, waitingForPeers: peerWait) }
            guard let document else {
                throw Problem(status: .serviceUnavailable, code: "document.unavailable",
                              detail: "document \(hash) is cited on chain but no node has sent it yet", retryAfter: 30)
            }
            return Response(status: .ok, headers: [
                .contentType: document.mediaType,
                .contentDisposition: "attachment; filename=\"\(hash).\(fileExtension(document.mediaType))\"",
                .contentSecurityPolicy: "sandbox; default-src 'none'",
                .cacheControl: "private, max-age=3600, immutable",
            ], body: .init(byteBuffer: ByteBuffer(bytes: document.content)))
        }
    }

    /// The uploader; once it is cited on chain, a reviewing authority, and, by the transaction
    /// that cited it first, its signer, a current owner of the property it cites it for, or a
    /// party to the deed it cites it for or opened (a loan agreement).
    ///
    /// Only the first citation gives the record's people the right to read: anyone who learns a
    /// hash (from a deed, a certificate, the register) could cite it again in a deed or on a
    /// property of their own, and would otherwise read a document that is not theirs. A node that
    /// joined by state sync cannot tell the first citation and leaves this to other nodes.
    static func mayRead(_ session: SessionStore.Session, held: StoredDocument?, citations: [DocumentCitation], node: Node) async throws -> Bool {
        if held?.uploadedBy == session.party.rawValue { return true }
        // An upload nobody cites yet belongs to no record: only its uploader reads it.
        guard let first = citations.first?.transaction else { return false }
        if !readers.isDisjoint(with: session.roles) { return true }
        // A node that joined by state sync holds no citation from before its join, so the first
        // it holds may be a copy: it cannot tell whose record the document is.
        guard try node.firstHeldBlock() == Height(1) else {
            throw Problem(status: .conflict, code: "document.citations_before_join",
                          detail: "this node holds the chain from block \(try node.firstHeldBlock()) on and cannot tell who first cited this document; "
                              + "read it from a node that holds the whole chain")
        }
        for citation in citations where citation.transaction == first {
            if citation.signer == session.party.rawValue { return true }
            if let deed = try await node.deed(citation.transaction), deed.parties.contains(session.party) { return true }
            let parts = citation.record.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "property", let number = try? CadastralNumber(parts[1]),
               let passport = try await node.passport(number), passport.owners.contains(where: { $0.party == session.party }) { return true }
            if parts[0] == "deed", let id = Hash(hex: parts[1]), let deed = try await node.deed(TransactionID(hash: id)),
               deed.parties.contains(session.party) { return true }
        }
        return false
    }

    static func fileExtension(_ mediaType: String) -> String {
        switch mediaType {
        case "application/pdf": "pdf"
        case "image/png": "png"
        default: "jpg"
        }
    }
}

struct DocumentBody: Encodable {
    let hash: Hash
    let mediaType: String
    let size: Int
}
