import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import TamgaCore
import TamgaLedger
import TamgaNode

/// `tamga devnet`: a local network of validator processes with demo parties and properties.
struct DevnetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devnet",
        abstract: "Run a local network: N validator processes with demo parties, properties and tokens, until Ctrl-C.",
        discussion: """
            The first run writes the network to --dir (keys of every demo party in <dir>/parties), starts
            one `tamga node` process per validator (logs in <dir>/node-<i>/node.log), registers demo
            properties and mints tokens through the API. Later runs start the same network again with its
            data; --reset starts from a new genesis.
            """
    )

    @Option(help: "The network's folder.")
    var dir = "devnet"

    @Option(help: "How many validators (processes).")
    var validators = 4

    @Option(help: "Demo citizens to enroll (`tamga bench` sends as them; at 2,000 transactions/s, 400 citizens send about 5/s each).")
    var citizens = 400

    @Option(help: "Validator i listens for peers on peer-port+i.")
    var peerPort = 26_600

    @Option(help: "Validator i serves the HTTP API on api-port+i.")
    var apiPort = 8_080

    @Option(help: "Also project the chain into this PostgreSQL database from node 0: postgres://user@host:port/database (docs/integrations.md).")
    var registerPostgres: String?

    @Flag(help: "Delete the folder first and start from a new genesis.")
    var reset = false

    @Flag(help: "Start, seed, print the summary and stop (for scripts and tests).")
    var exitAfterSeeding = false

    func validate() throws {
        guard (1...16).contains(validators) else { throw ValidationError("--validators must be 1 to 16 on one machine") }
        guard citizens >= 10 else { throw ValidationError("--citizens must be at least 10 (the demo registers 10 properties)") }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: dir)
        let manager = FileManager.default
        if reset { try? manager.removeItem(at: directory) }
        if !manager.fileExists(atPath: directory.appendingPathComponent("genesis.json").path) {
            let setup = NetworkSetup(
                chainID: try ChainID("tamga-devnet"), validators: validators,
                ports: .consecutive(validators: validators, peerBase: peerPort, apiBase: apiPort), demo: true, citizens: citizens,
                genesisTime: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000)),
                // A demo network: key recovery waits one minute instead of three days.
                parameters: Parameters(recoveryTimeLockMillis: 60_000))
            try setup.write(to: directory)
            print("wrote a new \(validators)-validator network to \(dir)/")
        }
        let homes = try NetworkSetup.nodeHomes(in: directory)
        if let registerPostgres, let first = homes.first {
            var config = try first.loadConfig()
            config.register = NodeConfig.Register(postgres: registerPostgres)
            try writeJSON(config, to: first.configURL)
        }
        let processes = try homes.map { try launch($0) }
        let stop = StopSignal(processes: processes)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let clients = try homes.map { home in
                let config = try home.loadConfig()
                return NodeClient(baseURL: "http://\(config.apiHost):\(config.apiPort)", http: http)
            }
            try await waitUntilServing(clients, stop: stop)
            let seededMarker = directory.appendingPathComponent("seeded")
            if !manager.fileExists(atPath: seededMarker.path) {
                try await seed(through: clients[0], network: directory, chain: try homes[0].loadGenesis().chainID)
                try Data().write(to: seededMarker)
            }
            printSummary(clients, homes: homes)
            if !exitAfterSeeding {
                print("press Ctrl-C to stop the network")
                let reason = await stop.wait()
                print(reason)
            }
        } catch {
            stop.terminateAll()
            try? await http.shutdown()
            throw error
        }
        stop.terminateAll()
        try await http.shutdown()
    }

    private func launch(_ home: NodeHome) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["node", "--home", home.url.path]
        let log = home.url.appendingPathComponent("node.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    private func waitUntilServing(_ clients: [NodeClient], stop: StopSignal) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        for client in clients {
            while (try? await client.get("/v1/status", as: NodeClient.StatusReply.self)) == nil {
                if let exited = stop.exitedProcess { throw CommandFailure("a node exited at start (status \(exited)); see its node.log") }
                guard ContinuousClock.now < deadline else { throw CommandFailure("\(client.baseURL) did not answer within 60 s; see the node logs") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Registers ten properties (citizen-i owns property i), mints tokens to three citizens and
    /// lists property 1 for sale, each through the API and waiting for finality.
    private func seed(through client: NodeClient, network: URL, chain: ChainID) async throws {
        print("seeding demo data through \(client.baseURL) ...")
        let registrar = try await Wallet.load("registrar-1", network: network, client: client)
        let issuer = try await Wallet.load("issuer-1", network: network, client: client)
        let citizen = try await Wallet.load("citizen-1", network: network, client: client)
        func commit(_ envelope: SignedEnvelope) async throws {
            let reply = try await client.submit(envelope, waitForCommit: true)
            guard reply.status == "committed" else {
                throw CommandFailure("seeding failed: \(reply.receipt?.rejectionMessage ?? reply.status) [\(reply.receipt?.rejectionCode ?? "")]")
            }
        }
        for index in 1...10 {
            try await commit(try registrar.sign(.registerProperty(RegisterProperty(
                cadastralNumber: try CadastralNumber(Self.demoProperty(index)), kind: index % 3 == 0 ? "house" : "apartment",
                address: "Astana, Mangilik El avenue \(index), apt \(index * 3)", area: AreaHundredths(UInt64(5_000 + index * 1_250)),
                location: nil, owners: [Ownership(party: try PartyID("citizen-\(index)"), share: .whole)],
                titleDocumentHash: .sha256(Array("title deed \(index)".utf8)))), chain: chain))
        }
        for index in 1...3 {
            try await commit(try issuer.sign(.mint(Mint(to: try PartyID("citizen-\(index)"), amount: Tiyn(100_000_000),
                                                         depositReference: .sha256(Array("deposit \(index)".utf8)))), chain: chain))
        }
        try await commit(try citizen.sign(.list(ListProperty(cadastralNumber: try CadastralNumber(Self.demoProperty(1)), price: Tiyn(850_000_000))), chain: chain))
        // A bank's pledge on property 10 with its loan contract, signed by the owner, waiting for
        // a registrar's review (the portal's "Pledges to review").
        let bank = try await Wallet.load("bank-1", network: network, client: client)
        let owner = try await Wallet.load("citizen-10", network: network, client: client)
        let contract = DemoDocument.pdf(lines: ["Loan contract 2026/10", "Lender: bank-1. Borrower and pledgor: citizen-10.",
                                                "Loan: 12,000,000.00 KZT for 15 years, secured by a pledge of \(Self.demoProperty(10))."])
        let token = try await client.openSession(party: "bank-1", key: bank.key)
        _ = try await client.request("/v1/documents", method: .POST, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/pdf")],
                                     body: Data(contract))
        let proposal = try bank.sign(.proposePledge(ProposePledge(cadastralNumber: try CadastralNumber(Self.demoProperty(10)), loanAmount: Tiyn(1_200_000_000),
                                                                  documents: [.sha256(contract)])), chain: chain)
        try await commit(proposal)
        try await commit(try owner.sign(.signPledge(PledgeReference(pledge: proposal.transactionID)), chain: chain))
        print("seeded 10 properties, 3 token deposits, 1 listing and 1 pledge waiting for review")
    }

    static func demoProperty(_ index: Int) -> String { "01-001-001-\(index)" }

    private func printSummary(_ clients: [NodeClient], homes: [NodeHome]) {
        print("")
        print("Tamga devnet: \(clients.count) validators")
        for (index, client) in clients.enumerated() {
            print("  validator \(index): API \(client.baseURL)   log \(homes[index].url.path)/node.log")
        }
        print("  party keys: \(dir)/parties/ (registrar-1, registrar-2, notary-1, bank-1, court-1, bailiff-1, issuer-1, citizen-1 ...)")
        print("")
        print("try:")
        print("  curl \(clients[0].baseURL)/v1/status")
        print("  curl \(clients[0].baseURL)/v1/blocks/1")
        print("  curl \(clients[0].baseURL)/v1/parties/citizen-1")
        print("  swift run -c release tamga bench --network \(dir)")
    }
}

/// Waits for Ctrl-C, SIGTERM or the exit of a node process, and stops the nodes.
final class StopSignal: @unchecked Sendable {
    private let processes: [Process]
    private let lock = NSLock()
    private var continuation: CheckedContinuation<String, Never>?
    private var reason: String?
    private var sources: [any DispatchSourceSignal] = []
    private var exited: Int32?

    init(processes: [Process]) {
        self.processes = processes
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.finish("stopping the network") }
            source.resume()
            sources.append(source)
        }
        for (index, process) in processes.enumerated() {
            process.terminationHandler = { [weak self] process in
                self?.lock.withLock { self?.exited = process.terminationStatus }
                self?.finish("validator \(index) exited with status \(process.terminationStatus); stopping the network")
            }
        }
    }

    var exitedProcess: Int32? { lock.withLock { exited } }

    func wait() async -> String {
        await withCheckedContinuation { continuation in
            lock.withLock {
                if let reason { continuation.resume(returning: reason) } else { self.continuation = continuation }
            }
        }
    }

    private func finish(_ text: String) {
        lock.withLock {
            guard reason == nil else { return }
            reason = text
            continuation?.resume(returning: text)
            continuation = nil
        }
    }

    /// Sends SIGTERM to every node still running and waits for each to exit.
    func terminateAll() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
    }
}

/// A one-page PDF of plain lines, for the devnet's demo documents (ASCII text, Helvetica).
enum DemoDocument {
    static func pdf(lines: [String]) -> [UInt8] {
        func escaped(_ line: String) -> String {
            line.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "(", with: "\\(").replacingOccurrences(of: ")", with: "\\)")
        }
        let text = "BT /F1 12 Tf 72 770 Td " + lines.map { "(\(escaped($0))) Tj 0 -18 Td" }.joined(separator: " ") + " ET"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length \(text.utf8.count) >>\nstream\n\(text)\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var document = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(document.utf8.count)
            document += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let table = document.utf8.count
        document += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { document += String(format: "%010d 00000 n \n", offset) }
        document += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(table)\n%%EOF\n"
        return Array(document.utf8)
    }
}
