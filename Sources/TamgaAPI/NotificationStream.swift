import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization
import TamgaCore
import TamgaNode
import TamgaStorage

extension NodeAPI {
    /// How long one notification stream lasts; the client reconnects from its last event's id.
    static let notificationStreamSeconds = 300

    /// Server-sent events: each event naming `party` as it is decided (`id:` its cursor, `data:` the
    /// event as `GET .../notifications` lists it), after `start`. The session is checked again
    /// every few seconds, so a revoked key or an expired session ends the stream; a comment every
    /// 15 s keeps quiet connections open; the stream ends after `notificationStreamSeconds` and at
    /// the node's shutdown.
    static func streamNotifications(of party: PartyID, after start: EventCursor?, request: Request, gate: Gate,
                                    into writer: inout any ResponseBodyWriter) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var cursor = start
        var quietRounds = 0
        let end = ContinuousClock.now + .seconds(notificationStreamSeconds)
        try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
        for round in 0... {
            guard !Task.isCancelled, !Task.isShuttingDownGracefully, ContinuousClock.now < end else { return }
            if round % 10 == 0 { guard (try? await gate.session(request))?.party == party else { return } }
            let events = try gate.node.events(about: "party/\(party)", after: cursor, limit: Limits.pageSizeMax)
            for stored in events {
                let data = String(decoding: try encoder.encode(EventBody(stored)), as: UTF8.self)
                try await writer.write(ByteBuffer(string: "id: \(stored.cursor.text)\nevent: ledger\ndata: \(data)\n\n"))
            }
            cursor = events.last?.cursor ?? cursor
            quietRounds = events.isEmpty ? quietRounds + 1 : 0
            if quietRounds == 30 {
                quietRounds = 0
                try await writer.write(ByteBuffer(string: ": still here\n\n"))
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

/// Counts the live notification streams of each party, so that no party holds more than its share
/// of a node's connections.
final class StreamLeases: Sendable {
    /// One stream's place; given back by `end()` or, at the latest, when the lease is freed.
    final class Lease: Sendable {
        private let leases: StreamLeases
        private let party: PartyID
        private let ended = Mutex(false)

        init(_ leases: StreamLeases, _ party: PartyID) {
            self.leases = leases
            self.party = party
        }

        func end() {
            guard ended.withLock({ ended in defer { ended = true }; return !ended }) else { return }
            leases.close(party)
        }

        deinit { end() }
    }

    private let counts = Mutex<[PartyID: Int]>([:])
    let perParty: Int

    init(perParty: Int) { self.perParty = perParty }

    func open(_ party: PartyID) -> Lease? {
        let granted = counts.withLock { counts in
            guard counts[party, default: 0] < perParty else { return false }
            counts[party, default: 0] += 1
            return true
        }
        return granted ? Lease(self, party) : nil
    }

    func count(of party: PartyID) -> Int { counts.withLock { $0[party, default: 0] } }

    private func close(_ party: PartyID) {
        counts.withLock { counts in
            counts[party, default: 1] -= 1
            if counts[party] == 0 { counts[party] = nil }
        }
    }
}
