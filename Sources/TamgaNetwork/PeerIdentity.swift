public import Crypto
public import Foundation
public import NIOSSL
public import TamgaCore
import SwiftASN1
import X509

/// Why a peer connection could not be set up or was refused.
public enum NetworkError: CodedError, Equatable {
    case certificate(String)
    case frameTooLarge(bytes: Int, limit: Int)
    case handshake(String)

    public var code: String {
        switch self {
        case .certificate: "network.certificate"
        case .frameTooLarge: "network.frame_too_large"
        case .handshake: "network.handshake"
        }
    }

    public var message: String {
        switch self {
        case let .certificate(reason): "certificate: \(reason)"
        case let .frameTooLarge(bytes, limit): "a frame of \(bytes) bytes exceeds the limit of \(limit)"
        case let .handshake(reason): "handshake refused: \(reason)"
        }
    }
}

/// A validator's TLS identity: an X.509 certificate whose subject public key is the validator's
/// own Ed25519 key from genesis. Peers do not trust any certificate authority: they accept a
/// certificate only if its key is one of the genesis validator keys, and TLS 1.3 makes the peer
/// prove it holds that key during the handshake.
public struct PeerIdentity: Sendable {
    public let key: SigningKey
    public let certificatePEM: String

    /// Makes a self-signed certificate for `key`, valid for `years`.
    public static func makeCertificatePEM(for key: SigningKey, name: String, years: Int = 10, now: Date = Date()) throws -> String {
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.seed)
        let certificateKey = Certificate.PrivateKey(privateKey)
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(Double(years) * 365 * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ed25519, extensions: Certificate.Extensions {},
            issuerPrivateKey: certificateKey)
        return try certificate.serializeAsPEM().pemString
    }

    /// Pairs `key` with a certificate, checking that the certificate carries exactly that key.
    public init(key: SigningKey, certificatePEM: String) throws {
        let certificate = try Certificate(pemEncoded: certificatePEM)
        guard let certified = try? PeerIdentity.publicKey(of: certificate), certified == key.publicKey else {
            throw NetworkError.certificate("the certificate does not carry this validator's key \(key.publicKey)")
        }
        self.key = key
        self.certificatePEM = certificatePEM
    }

    static func publicKey(of certificate: Certificate) throws -> PublicKey {
        guard let ed25519 = Curve25519.Signing.PublicKey(certificate.publicKey) else {
            throw NetworkError.certificate("the certificate's key is not Ed25519")
        }
        return try PublicKey(algorithm: .ed25519, bytes: Array(ed25519.rawRepresentation))
    }

    /// The validator key a peer's TLS certificate carries.
    static func publicKey(of certificate: NIOSSLCertificate) throws -> PublicKey {
        try publicKey(of: Certificate(derEncoded: try certificate.toDERBytes()))
    }

    func tlsConfiguration(server: Bool) throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
        let privateKeyPEM = try Certificate.PrivateKey(Curve25519.Signing.PrivateKey(rawRepresentation: key.seed)).serializeAsPEM().pemString
        let privateKey = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        var configuration = server
            ? TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(privateKey))
            : TLSConfiguration.makeClientConfiguration()
        if !server {
            configuration.certificateChain = [.certificate(certificate)]
            configuration.privateKey = .privateKey(privateKey)
        }
        configuration.minimumTLSVersion = .tlsv13
        // Validator keys are Ed25519, which BoringSSL offers only when asked to.
        configuration.signingSignatureAlgorithms = [.ed25519]
        configuration.verifySignatureAlgorithms = [.ed25519]
        // Peers present certificates both ways; the custom verification decides whom to accept.
        configuration.certificateVerification = .noHostnameVerification
        return configuration
    }
}
