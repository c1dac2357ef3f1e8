import Foundation
import HTTPTypes
import TamgaCore
import TamgaLedger

/// Sessions obtained by signing a challenge with a party key.
///
/// `POST /v1/auth/challenge` hands out a random challenge, valid for two minutes and usable once.
/// The party signs `SessionStore.signedText(chain:challenge:)` with one of its current keys and
/// sends it to `POST /v1/auth/session`, which checks the signature against the party's keys in the
/// latest state and returns a bearer token valid for fifteen minutes. Sessions live in the memory
/// of the node that issued them.
actor SessionStore {
    struct Session: Sendable {
        let party: PartyID
        let roles: [Role]
        let expires: ContinuousClock.Instant
    }

    static let challengeLifetime = Duration.seconds(120)
    static let sessionLifetime = Duration.seconds(15 * 60)
    static let challengesMax = 100_000

    private var challenges: [String: ContinuousClock.Instant] = [:]
    private var sessions: [String: Session] = [:]

    /// What a party signs to open a session.
    static func signedText(chain: ChainID, challenge: String) -> [UInt8] {
        Array("tamga-session-v1\n\(chain.rawValue)\n\(challenge)".utf8)
    }

    func newChallenge() throws -> String {
        let now = ContinuousClock.now
        challenges = challenges.filter { $0.value > now }
        guard challenges.count < Self.challengesMax else {
            throw Problem(status: .serviceUnavailable, code: "auth.busy", detail: "too many open challenges; try again shortly")
        }
        let challenge = Self.randomToken()
        challenges[challenge] = now + Self.challengeLifetime
        return challenge
    }

    /// Consumes the challenge (whatever the outcome) and opens a session if the signature is good.
    func openSession(challenge: String, party record: PartyRecord, keyID: KeyID, signature: Signature, chain: ChainID) throws -> (token: String, expiresIn: Duration) {
        guard let expires = challenges.removeValue(forKey: challenge), expires > .now else {
            throw Problem(status: .unauthorized, code: "auth.challenge_unknown", detail: "the challenge is unknown, used or expired; ask for a new one")
        }
        guard let key = record.keys.first(where: { $0.keyID == keyID }) else {
            throw Problem(status: .unauthorized, code: "auth.unknown_key", detail: "key \(keyID) is not a current key of \(record.id)")
        }
        guard key.isValidSignature(signature, for: Self.signedText(chain: chain, challenge: challenge)) else {
            throw Problem(status: .unauthorized, code: "auth.bad_signature", detail: "the signature does not verify for the challenge")
        }
        let now = ContinuousClock.now
        sessions = sessions.filter { $0.value.expires > now }
        let token = Self.randomToken()
        sessions[token] = Session(party: record.id, roles: record.roles, expires: now + Self.sessionLifetime)
        return (token, Self.sessionLifetime)
    }

    /// The session behind a bearer token, if it is live.
    func session(_ token: String) -> Session? {
        guard let session = sessions[token] else { return nil }
        guard session.expires > .now else {
            sessions[token] = nil
            return nil
        }
        return session
    }

    private static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
