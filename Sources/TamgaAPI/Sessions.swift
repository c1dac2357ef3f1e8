import Crypto
import Foundation
import HTTPTypes
import Synchronization
import TamgaCore
import TamgaLedger

/// Sessions obtained by signing a challenge with a party key.
///
/// `POST /v1/auth/challenge` hands out a challenge valid for two minutes. It is stateless: the
/// node keeps nothing for it, so no number of requests for challenges can crowd out anyone's
/// login. A challenge is `random(16) ‖ expiry(8, big-endian ms) ‖ HMAC-SHA256(node secret, both)[0..16]`
/// in hex, and only the node that issued it can vouch for it. The party signs
/// `SessionStore.signedText(chain:challenge:)` with one of its current keys and sends it to
/// `POST /v1/auth/session`, which checks the signature against the party's keys in the latest
/// state and returns a bearer token valid for fifteen minutes. A challenge that opened a session
/// is remembered until it expires, so it opens only one.
///
/// A session is only as good as the key and roles behind it: every use checks the party's
/// current record, and a session whose key was revoked, or whose party's roles changed, ends.
/// `DELETE /v1/auth/session` ends one at once. Sessions live in the memory of the node that issued them.
final class SessionStore: Sendable {
    struct Session: Sendable {
        let party: PartyID
        let keyID: KeyID
        let roles: [Role]
        let expires: ContinuousClock.Instant
    }

    static let challengeLifetime = Duration.seconds(120)
    static let sessionLifetime = Duration.seconds(15 * 60)
    static let sessionsMax = 100_000
    /// Sessions one party may hold at once on a node; a new one ends its oldest.
    static let sessionsPerPartyMax = 16

    private struct State {
        var sessions: [String: Session] = [:]
        /// Challenges that opened a session, with their expiry (wall-clock ms).
        var used: [String: UInt64] = [:]
    }

    /// The key of the challenges' MACs, new with every start of the node.
    private let secret = randomBytes(32)
    private let state = Mutex(State())

    /// What a party signs to open a session.
    static func signedText(chain: ChainID, challenge: String) -> [UInt8] {
        Array("tamga-session-v1\n\(chain.rawValue)\n\(challenge)".utf8)
    }

    func newChallenge(now: UInt64 = wallClockMillis()) -> String {
        var bytes = randomBytes(16)
        let expiry = now + UInt64(Self.challengeLifetime.components.seconds) * 1_000
        withUnsafeBytes(of: expiry.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: tag(bytes))
        return Hex.encode(bytes)
    }

    private func tag(_ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: secret))).prefix(16).map { $0 }
    }

    /// The challenge's expiry, if this node issued it and it has not expired.
    private func expiry(of challenge: String, now: UInt64) -> UInt64? {
        guard let bytes = Hex.decode(challenge), bytes.count == 40 else { return nil }
        let body = Array(bytes[..<24])
        // Compared in constant time, as a MAC must be.
        guard zip(bytes[24...], tag(body)).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        let expiry = body[16..<24].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return expiry > now ? expiry : nil
    }

    /// Opens a session if the challenge is this node's, live and unused, and the signature is good.
    func openSession(challenge: String, party record: PartyRecord, keyID: KeyID, signature: Signature, chain: ChainID,
                     now: UInt64 = wallClockMillis()) throws -> (token: String, expiresIn: Duration) {
        guard let expiry = expiry(of: challenge, now: now), state.withLock({ $0.used[challenge] == nil }) else {
            throw Problem(status: .unauthorized, code: "auth.challenge_unknown", detail: "the challenge is unknown, used or expired; ask for a new one")
        }
        guard let key = record.keys.first(where: { $0.keyID == keyID }) else {
            throw Problem(status: .unauthorized, code: "auth.unknown_key", detail: "key \(keyID) is not a current key of \(record.id)")
        }
        guard key.isValidSignature(signature, for: Self.signedText(chain: chain, challenge: challenge)) else {
            throw Problem(status: .unauthorized, code: "auth.bad_signature", detail: "the signature does not verify for the challenge")
        }
        let token = Hex.encode(randomBytes(32))
        let opened = ContinuousClock.now
        try state.withLock { state in
            // Checked again under the lock: two requests with one challenge open one session.
            guard state.used.updateValue(expiry, forKey: challenge) == nil else {
                throw Problem(status: .unauthorized, code: "auth.challenge_unknown", detail: "the challenge is unknown, used or expired; ask for a new one")
            }
            state.used = state.used.filter { $0.value > now }
            state.sessions = state.sessions.filter { $0.value.expires > opened }
            let own = state.sessions.filter { $0.value.party == record.id }
            if own.count >= Self.sessionsPerPartyMax, let oldest = own.min(by: { $0.value.expires < $1.value.expires }) {
                state.sessions[oldest.key] = nil
            }
            guard state.sessions.count < Self.sessionsMax else {
                throw Problem(status: .serviceUnavailable, code: "auth.busy", detail: "too many open sessions on this node; try again shortly")
            }
            state.sessions[token] = Session(party: record.id, keyID: keyID, roles: record.roles, expires: opened + Self.sessionLifetime)
        }
        return (token, Self.sessionLifetime)
    }

    /// The session behind a bearer token, if it is live.
    func session(_ token: String) -> Session? {
        state.withLock { state in
            guard let session = state.sessions[token] else { return nil }
            guard session.expires > .now else {
                state.sessions[token] = nil
                return nil
            }
            return session
        }
    }

    /// Ends a session (logout, or its key or roles changed); whether there was one.
    @discardableResult
    func end(_ token: String) -> Bool {
        state.withLock { $0.sessions.removeValue(forKey: token) != nil }
    }
}

func wallClockMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1_000)) }

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
