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
/// key with a different request gets 409. Keys belong to a scope (the client's address), so one
/// client's keys can never answer, or push out, another's. Successful answers are kept for 24
/// hours, at most 10,000 keys per scope (its oldest forgotten first) and 100,000 in all (taken
/// from the scope that holds the most); a refused request is not kept, so it can be retried.
actor IdempotencyStore {
    private struct Entry {
        let fingerprint: Hash
        var answer: Answer?
        let at: ContinuousClock.Instant
    }

    private struct Scope {
        var entries: [String: Entry] = [:]
        var order: [String] = []
        var head = 0

        var count: Int { entries.count }

        mutating func forgetOldest() {
            while head < order.count {
                let key = order[head]
                head += 1
                if entries.removeValue(forKey: key) != nil { break }
            }
            if head > 1_024, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    static let lifetime = Duration.seconds(24 * 3_600)
    static let keysPerScopeMax = 10_000
    static let keysMax = 100_000
    private var scopes: [String: Scope] = [:]
    private var total = 0

    func answer(key: String, scope: String, fingerprint: Hash, compute: @Sendable () async throws -> Answer) async throws -> Answer {
        guard key.utf8.count <= 255 else {
            throw Problem(status: .badRequest, code: "request.bad_idempotency_key", detail: "an Idempotency-Key is at most 255 bytes")
        }
        if let entry = scopes[scope]?.entries[key], entry.at.duration(to: .now) < Self.lifetime {
            guard entry.fingerprint == fingerprint else {
                throw Problem(status: .conflict, code: "idempotency.key_reused", detail: "this Idempotency-Key was used for a different request")
            }
            guard let answer = entry.answer else {
                throw Problem(status: .conflict, code: "idempotency.in_progress", detail: "the first request with this Idempotency-Key is still being answered")
            }
            return answer
        }
        insert(Entry(fingerprint: fingerprint, answer: nil, at: .now), key: key, scope: scope)
        do {
            let answer = try await compute()
            scopes[scope]?.entries[key]?.answer = answer
            return answer
        } catch {
            forget(key, scope: scope)
            throw error
        }
    }

    /// Removes a refused request's key, and its scope once empty; the order list is compacted
    /// when most of it names keys that are gone.
    private func forget(_ key: String, scope name: String) {
        guard var scope = scopes[name], scope.entries.removeValue(forKey: key) != nil else { return }
        total -= 1
        guard !scope.entries.isEmpty else {
            scopes[name] = nil
            return
        }
        if scope.order.count - scope.head > 2 * scope.entries.count + 64 {
            scope.order = scope.order[scope.head...].filter { scope.entries[$0] != nil }
            scope.head = 0
        }
        scopes[name] = scope
    }

    private func insert(_ entry: Entry, key: String, scope name: String) {
        var scope = scopes[name] ?? Scope()
        if scope.entries.updateValue(entry, forKey: key) == nil {
            scope.order.append(key)
            total += 1
        }
        if scope.count > Self.keysPerScopeMax {
            scope.forgetOldest()
            total -= 1
        }
        scopes[name] = scope
        if total > Self.keysMax, let largest = scopes.max(by: { $0.value.count < $1.value.count })?.key {
            scopes[largest]?.forgetOldest()
            total -= 1
            if scopes[largest]?.count == 0 { scopes[largest] = nil }
        }
    }
}
