import Crypto
public import Foundation
#if canImport(Glibc)
import Glibc
#endif
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOSSL
import SwiftASN1
import X509
public import Prometheus
public import TamgaNode
public import TamgaIntegrations

extension NodeAPI {
    /// The node's API server as its config says: on `apiHost:apiPort`, with the configured rate
    /// limits, and over TLS when `apiTLS` names a certificate chain and key (PEM files, relative
    /// to the node's folder unless absolute).
    ///
    /// - Throws: `NodeFileError` when a TLS file cannot be read.
    public static func application(node: Node, home: NodeHome, metrics: PrometheusCollectorRegistry?, integrations: IntegrationStore? = nil,
                                   logger: Logger) throws
        -> Application<RouterResponder<APIRequestContext>>
    {
        let config = node.config
        let router = router(node: node, metrics: metrics, limits: config.apiRateLimits ?? .init(),
                            demoParties: DemoParty.load(config: config, home: home, genesis: node.genesis), integrations: integrations)
        let configuration = ApplicationConfiguration(address: .hostname(config.apiHost, port: config.apiPort), serverName: "tamga")
        // A connection idle for a minute is closed, so slow clients cannot hold sockets for good.
        let http = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(60)))
        guard let files = config.apiTLS else { return Application(router: router, server: http, configuration: configuration, logger: logger) }
        func path(_ file: String) -> String { file.hasPrefix("/") ? file : home.url.appendingPathComponent(file).path }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(path(files.certificateChain))
            key = try NIOSSLPrivateKey(file: path(files.privateKey), format: .pem)
        } catch {
            throw NodeFileError.malformed(file: home.configURL.path, reason: "apiTLS: cannot read the certificate chain or key: \(error)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return Application(router: router, server: try .tls(http, tlsConfiguration: tls), configuration: configuration, logger: logger)
    }
}

/// A self-signed certificate for a node's API, for a test network or until the organization's
/// own certificate authority issues one: ECDSA P-256 (what browsers and HTTP clients accept),
/// naming each host as a subject alternative name.
public enum APICertificate {
    /// The certificate and its private key, both PEM.
    public static func makeSelfSigned(hosts: [String], days: Int = 365, now: Date = Date()) throws -> (certificatePEM: String, privateKeyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let subject = try DistinguishedName { CommonName(hosts.first ?? "tamga-node") }
        let names = hosts.map { host -> GeneralName in
            addressBytes(host).map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) } ?? .dnsName(host)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3_600), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames(names)
                try ExtendedKeyUsage([.serverAuth])
            },
            issuerPrivateKey: certificateKey)
        return (try certificate.serializeAsPEM().pemString, try certificateKey.serializeAsPEM().pemString)
    }
}

/// The bytes of an IPv4 or IPv6 address literal; nil for a host name.
private func addressBytes(_ host: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
    return nil
}
