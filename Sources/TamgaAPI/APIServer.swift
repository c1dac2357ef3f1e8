import Foundation
public import Hummingbird
import HummingbirdTLS
public import Logging
import NIOSSL
public import Prometheus
public import TamgaNode

extension NodeAPI {
    /// The node's API server as its config says: on `apiHost:apiPort`, with the configured rate
    /// limits, and over TLS when `apiTLS` names a certificate chain and key (PEM files, relative
    /// to the node's folder unless absolute).
    ///
    /// - Throws: `NodeFileError` when a TLS file cannot be read.
    public static func application(node: Node, home: NodeHome, metrics: PrometheusCollectorRegistry?, logger: Logger) throws
        -> Application<RouterResponder<APIRequestContext>>
    {
        let config = node.config
        let router = router(node: node, metrics: metrics, limits: config.apiRateLimits ?? .init())
        let configuration = ApplicationConfiguration(address: .hostname(config.apiHost, port: config.apiPort), serverName: "tamga")
        guard let files = config.apiTLS else { return Application(router: router, configuration: configuration, logger: logger) }
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
        return Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls), configuration: configuration, logger: logger)
    }
}
