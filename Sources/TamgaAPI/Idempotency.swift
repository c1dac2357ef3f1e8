import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TamgaCore

/// A JSON answer kept as bytes, so that an idempotent request can be answered again.
struct Answer: Sendable {
    let status: HTTPResponse.Status
    let body: [UInt8]

    init(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.status = status
        self.body = Array(try encoder.encode(value))
    }

    var response: Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// `Idempotency-Key` on writes: the same key with the same request gets the same answer; the same
/// key with a different request gets 409. Successful answers are kept for 24 hours (at most
/// 100,000 keys, the oldest forgotten first); a refused request is not kept, so it can be retried.
actor IdempotencyStore {
    private struct Entry {
        let fingerprint: Hash
        var answer: Answer?
        let at: ContinuousClock.Instant
    }

    static let lifetime = Duration.seconds(24 * 3_600)
    static let keysMax = 100_000
    private var entries: [String: Entry] = [:]
    private var order: [String] = []

    func answer(key: String, fingerprint: Hash, compute: @Sendable () async throws -> Answer) async throws -> Answer {
        guard key.utf8.count <= 255 else {
            throw Problem(status: .badRequest, code: "request.bad_idempotency_key", detail: "an Idempotency-Key is at most 255 bytes")
        }
        if let entry = entries[key], entry.at.duration(to: .now) < Self.lifetime {
            guard entry.fingerprint == fingerprint else {
                throw Problem(status: .conflict, code: "idempotency.key_reused", detail: "this Idempotency-Key was used for a different request")
            }
            guard let answer = entry.answer else {
                throw Problem(status: .conflict, code: "idempotency.in_progress", detail: "the first request with this Idempotency-Key is still being answered")
            }
            return answer
        }
        entries[key] = Entry(fingerprint: fingerprint, answer: nil, at: .now)
        order.append(key)
        if order.count > Self.keysMax { entries[order.removeFirst()] = nil }
        do {
            let answer = try await compute()
            entries[key]?.answer = answer
            return answer
        } catch {
            entries[key] = nil
            throw error
        }
    }
}
