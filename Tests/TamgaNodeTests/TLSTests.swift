import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import TamgaAPI
import TamgaNode
import Testing

@Suite("The API over TLS")
struct APITLSTests {
    @Test("with apiTLS in its config the node serves HTTPS with that certificate, and plain HTTP no longer")
    func servesHTTPS() async throws {
        let (certificate, key) = try APICertificate.makeSelfSigned(hosts: ["127.0.0.1"])
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let untrusting = HTTPClient(eventLoopGroupProvider: .singleton)
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let home = network.homes[0]
        try Data(certificate.utf8).write(to: home.url.appendingPathComponent("api.crt"))
        try Data(key.utf8).write(to: home.url.appendingPathComponent("api.key"))
        var config = try home.loadConfig()
        config.apiTLS = NodeConfig.TLSFiles(certificateChain: "api.crt", privateKey: "api.key")
        try writeJSON(config, to: home.configURL)

        let node = try Node(home: home, logger: quietLogger)
        let app = try NodeAPI.application(node: node, home: home, metrics: nil, logger: quietLogger)
        let stopped = Flag()
        let serving = Task {
            defer { stopped.set() }
            try await app.runService()
        }
        defer { serving.cancel() }
        let url = "https://127.0.0.1:\(config.apiPort)/v1/status"
        var status: HTTPResponseStatus?
        let giveUp = ContinuousClock.now + .seconds(120)
        while status == nil, !stopped.isSet, ContinuousClock.now < giveUp {
            status = try? await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10)).status
            if status == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(try #require(status, stopped.isSet ? "the HTTPS server stopped before it answered" : "the HTTPS server did not answer in 120 s") == .ok)
        // A client that does not trust the certificate is refused, and so is plain HTTP.
        await #expect(throws: (any Error).self) {
            _ = try await untrusting.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        }
        await #expect(throws: (any Error).self) {
            _ = try await untrusting.execute(HTTPClientRequest(url: "http://127.0.0.1:\(config.apiPort)/v1/status"), timeout: .seconds(10))
        }
        try await client.shutdown()
        try await untrusting.shutdown()
    }

    @Test("a missing certificate file stops the start with the file named")
    func missingFile() throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        var config = try network.homes[0].loadConfig()
        config.apiTLS = NodeConfig.TLSFiles(certificateChain: "nowhere.crt", privateKey: "nowhere.key")
        try writeJSON(config, to: network.homes[0].configURL)
        let node = try Node(home: network.homes[0], logger: quietLogger)
        #expect(throws: NodeFileError.self) { _ = try NodeAPI.application(node: node, home: network.homes[0], metrics: nil, logger: quietLogger) }
    }
}

