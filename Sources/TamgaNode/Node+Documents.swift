import Foundation
import Logging
import Synchronization
public import TamgaCore
public import TamgaLedger
import TamgaNetwork
public import TamgaStorage

/// The kinds of source document a node keeps: scanned titles, contracts, orders and receipts.
public enum SourceDocument {
    public static let mediaTypes = ["application/pdf", "image/jpeg", "image/png"]

    /// The media type the bytes begin as (their file signature), or nil for anything else.
    public static func mediaType(of bytes: [UInt8]) -> String? {
        if bytes.starts(with: Array("%PDF-".utf8)) { return "application/pdf" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        return nil
    }
}

/// Why a document was not taken.
public enum DocumentError: CodedError, Equatable {
    case empty
    case tooLarge(Int)
    /// The declared type is not one kept, or the bytes are not what it says.
    case badType(declared: String, found: String?)

    public var code: String {
        switch self {
        case .empty: "document.empty"
        case .tooLarge: "document.too_large"
        case .badType: "document.bad_type"
        }
    }

    public var message: String {
        switch self {
        case .empty: "the document is empty"
        case let .tooLarge(size): "the document is \(size) bytes; at most \(Limits.documentBytesMax) are kept"
        case let .badType(declared, found):
            "the document is declared \(declared) but its bytes are \(found ?? "none of \(SourceDocument.mediaTypes.joined(separator: ", "))")"
        }
    }
}

extension Node {
    /// How long an unanswered request to the peers for a document stands before it is asked again.
    static let documentRequestLifetime = Duration.seconds(30)

    /// Keeps an uploaded document and returns its name (SHA-256). Uploading the same bytes again
    /// changes nothing.
    public nonisolated func uploadDocument(_ content: [UInt8], mediaType: String, by party: PartyID) throws -> Hash {
        try Self.check(content, mediaType: mediaType)
        let hash = Hash.sha256(content)
        try store.storeDocument(StoredDocument(hash: hash, mediaType: mediaType, content: content, uploadedBy: party.rawValue), at: Node.wallClock())
        return hash
    }

    static func check(_ content: [UInt8], mediaType: String) throws(DocumentError) {
        guard !content.isEmpty else { throw .empty }
        guard content.count <= Limits.documentBytesMax else { throw .tooLarge(content.count) }
        let found = SourceDocument.mediaType(of: content)
        guard SourceDocument.mediaTypes.contains(mediaType), found == mediaType else { throw .badType(declared: mediaType, found: found) }
    }

    /// The committed transactions that cite the document.
    public nonisolated func citations(of document: Hash) throws -> [DocumentCitation] { try store.citations(of: document) }

    /// The document, from this node's store or else from its peers (each answer is checked
    /// against the name before it is kept); nil when no peer sent it within `timeout`.
    public nonisolated func document(_ hash: Hash, waitingForPeers timeout: Duration = .zero) async throws -> StoredDocument? {
        if let held = try store.document(hash) { return held }
        guard timeout > .zero else { return nil }
        requestDocument(hash)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            if let held = try store.document(hash) { return held }
        }
        return nil
    }

    /// Asks every peer for a document, unless it was asked for recently.
    nonisolated func requestDocument(_ hash: Hash) {
        let now = ContinuousClock.now
        let ask = documentRequests.withLock { requests in
            requests = requests.filter { now - $0.value < Self.documentRequestLifetime }
            guard requests[hash] == nil else { return false }
            requests[hash] = now
            return true
        }
        if ask { network.broadcast(.documentRequest(hash)) }
    }

    /// Asks the peers for every cited document this node does not hold: a document cited on
    /// chain reaches every node that follows the chain.
    nonisolated func requestMissingDocuments() {
        guard let missing = try? store.missingDocuments(limit: 32) else { return }
        for hash in missing { requestDocument(hash) }
    }

    /// A peer's request for a document, or its answer to ours.
    nonisolated func receiveDocumentMessage(_ message: PeerMessage, from peer: ValidatorIndex) -> PeerVerdict {
        switch message {
        case let .documentRequest(hash):
            if let held = try? store.document(hash) {
                network.send(.document(hash: hash, mediaType: held.mediaType, content: held.content), to: peer)
            }
            return .accepted
        case let .document(hash, mediaType, content):
            // Only answers to a request stand; a late or unasked one is dropped.
            guard documentRequests.withLock({ $0.removeValue(forKey: hash) }) != nil else { return .accepted }
            guard Hash.sha256(content) == hash else { return .misbehaving("sent a document that does not hash to its name") }
            do {
                try Self.check(content, mediaType: mediaType)
                try store.storeDocument(StoredDocument(hash: hash, mediaType: mediaType, content: content, uploadedBy: nil), at: Node.wallClock())
            } catch let error as DocumentError {
                return .misbehaving("sent a document that is not kept: \(error.message)")
            } catch {
                logger.error("cannot keep a document from a peer", metadata: ["document": "\(hash)", "error": "\(error)"])
                documentRequests.withLock { _ = $0.removeValue(forKey: hash) }
            }
            return .accepted
        default:
            return .accepted
        }
    }

    /// The documents cited by a block's committed transactions.
    public static func citations(in transactions: [PreparedTransaction], receipts: [Receipt]) -> [DocumentCitation] {
        zip(transactions, receipts).flatMap { transaction, receipt -> [DocumentCitation] in
            guard receipt.isCommitted, case let .success(payload) = transaction.payload else { return [] }
            return payload.action.citedDocuments.map {
                DocumentCitation(document: $0.document, record: $0.record, transaction: receipt.transaction, signer: payload.signer.rawValue)
            }
        }
    }
}
