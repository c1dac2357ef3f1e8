import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals
import TamgaAPI
import TamgaCore
import TamgaNode
import TamgaIntegrations
import AsyncHTTPClient

struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "Set up a network's folders.",
        subcommands: [Init.self, APITLS.self]
    )

    struct APITLS: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api-tls",
            abstract: "Serve a node's API over TLS: write a self-signed certificate and key (api.crt, api.key) into its folder and name them in its config.",
            discussion: "For a test network, or until the organization's certificate authority issues one; then put its files in their place (docs/operations.md)."
        )

        @Option(help: "The node's folder.")
        var home: String

        @Option(help: "A host name or address clients reach the API by (repeat for more).")
        var host: [String] = ["127.0.0.1", "localhost"]

        func run() throws {
            let node = NodeHome(URL(fileURLWithPath: home))
            var config = try node.loadConfig()
            let (certificate, key) = try APICertificate.makeSelfSigned(hosts: host)
            try Data(certificate.utf8).write(to: node.url.appendingPathComponent("api.crt"))
            let keyURL = node.url.appendingPathComponent("api.key")
            try? FileManager.default.removeItem(at: keyURL)
            guard FileManager.default.createFile(atPath: keyURL.path, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CommandFailure("cannot write \(keyURL.path)")
            }
            config.apiTLS = NodeConfig.TLSFiles(certificateChain: "api.crt", privateKey: "api.key")
            try writeJSON(config, to: node.configURL)
            print("the API of \(home) is served over TLS from its next start: https://\(config.apiHost):\(config.apiPort)")
            print("clients trust it with \(node.url.appendingPathComponent("api.crt").path)")
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write genesis.json, one folder per validator (key, certificate, config) and the operators' party keys."
        )

        @Option(help: "How many validators.")
        var validators = 4

        @Option(help: "Where to write the network.")
        var out: String

        @Option(help: "The chain id.")
        var chainId = "tamga-local"

        @Option(help: "The address every node listens on.")
        var host = "127.0.0.1"

        @Option(help: "Validator i takes peer port peer-port+i.")
        var peerPort = 26_600

        @Option(help: "Validator i serves the HTTP API on api-port+i.")
        var apiPort = 8_080

        @Flag(help: "Also enroll demo authorities and citizens (keys in parties/).")
        var demo = false

        @Option(help: "Demo citizens to enroll (with --demo).")
        var citizens = 100

        func validate() throws {
            guard (1...Int(Limits.validatorsMax)).contains(validators) else { throw ValidationError("--validators must be 1 to \(Limits.validatorsMax)") }
        }

        func run() throws {
            let setup = NetworkSetup(
                chainID: try ChainID(chainId), validators: validators, host: host,
                ports: .consecutive(validators: validators, peerBase: peerPort, apiBase: apiPort),
                demo: demo, citizens: citizens, genesisTime: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000)))
            let genesis = try setup.write(to: URL(fileURLWithPath: out))
            print("wrote network \(genesis.chainID) (genesis \(genesis.hash)) to \(out)")
            for index in 0..<validators {
                print("  node-\(index): peers on \(host):\(peerPort + index), API on http://\(host):\(apiPort + index)")
            }
            print("start a node with: tamga node --home \(out)/node-0")
        }
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one validator node from its folder until SIGTERM or SIGINT."
    )

    @Option(help: "The node's folder (written by `tamga network init`).")
    var home: String

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "tamga.node")
        let node: Node
        do {
            node = try Node(home: NodeHome(URL(fileURLWithPath: home)), logger: logger)
        } catch let error as any CodedError {
            throw CommandFailure("cannot start the node: \(error.message) [\(error.code)]")
        }
        let nodeHome = NodeHome(URL(fileURLWithPath: home))
        let integrations = try IntegrationStore(path: nodeHome.integrationsURL.path)
        let api: Application<RouterResponder<APIRequestContext>>
        let delivery: DeliveryService
        do {
            api = try NodeAPI.application(node: node, home: nodeHome, metrics: registry, integrations: integrations, logger: Logger(label: "tamga.api"))
            delivery = try DeliveryService.configured(node: node, home: nodeHome, store: integrations, http: HTTPClient.shared,
                                                      labels: PortalFiles.eventLabels(), logger: Logger(label: "tamga.delivery"))
        } catch let error as any CodedError {
            throw CommandFailure("cannot start the API: \(error.message) [\(error.code)]")
        }
        var services: [any Service] = [NodeService(node: node), api, delivery]
        if let register = node.config.register {
            services.append(try RegisterService(node: node, url: register.postgres, logger: Logger(label: "tamga.register")))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check everything a stopped node's folder stores: every block and commit, and every node of the latest state.",
        discussion: "A node checks only what it builds on when it starts (the last block, its commit and the state roots), and every state node when it first reads it. This reads it all; run it while the node is stopped."
    )

    @Option(help: "The node's folder.")
    var home: String

    func run() throws {
        let started = ContinuousClock.now
        let report: AuditReport
        do {
            report = try NodeAudit.run(home: NodeHome(URL(fileURLWithPath: home))) { print($0) }
        } catch let error as any CodedError {
            throw CommandFailure("audit failed: \(error.message) [\(error.code)]")
        }
        let seconds = started.duration(to: .now)
        print("audit passed: \(report.blocks) blocks with their commits, \(report.records) records of the state after block \(report.height) (root \(report.stateRoot)), in \(seconds.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))")
    }
}
