import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TamgaCore
import TamgaLedger
import TamgaNode
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `tamga` executable built with the tests (it sits beside the test bundle).
func tamgaExecutable() throws -> URL {
    let candidates = [URL(fileURLWithPath: CommandLine.arguments[0]), Bundle.main.bundleURL]
        .map { $0.deletingLastPathComponent().appendingPathComponent("tamga") }
    return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }, "build the package first: the tamga executable is missing")
}

/// `tamga node` processes on loopback, driven over HTTP: the validators, then any followers.
final class ProcessNetwork: @unchecked Sendable {
    let network: TestNetwork
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    private(set) var processes: [Process?]
    let urls: [String]
    /// The validators' folders, then the followers'; node i is `homes[i]`.
    let homes: [NodeHome]

    /// - Parameter configure: changes node i's config before it first starts.
    init(validators: Int, followers: Int = 0, configure: (Int, inout NodeConfig) throws -> Void = { _, _ in }) throws {
        network = try TestNetwork(validators: validators, citizens: 20, followers: followers)
        homes = network.homes + network.followerHomes
        for (index, home) in homes.enumerated() {
            var config = try home.loadConfig()
            try configure(index, &config)
            try writeJSON(config, to: home.configURL)
        }
        urls = try homes.map { home in
            let config = try home.loadConfig()
            return "http://\(config.apiHost):\(config.apiPort)"
        }
        processes = Array(repeating: nil, count: homes.count)
        for index in homes.indices { try launch(index) }
    }

    func launch(_ index: Int) throws {
        let process = Process()
        process.executableURL = try tamgaExecutable()
        let home = homes[index]
        process.arguments = ["node", "--home", home.url.path, "--log-level", "notice"]
        let log = home.url.appendingPathComponent("node.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[index] = process
    }

    func kill9(_ index: Int) async throws {
        guard let process = processes[index] else { return }
        kill(process.processIdentifier, SIGKILL)
        try await offThePool { process.waitUntilExit() }
        processes[index] = nil
    }

    /// SIGTERM to every node; returns their exit statuses.
    func shutdown() async throws -> [Int32] {
        var statuses: [Int32] = []
        for process in processes.compactMap({ $0 }) {
            process.terminate()
            try await offThePool { process.waitUntilExit() }
            statuses.append(process.terminationStatus)
        }
        try await http.shutdown()
        return statuses
    }

    func request(_ index: Int, _ path: String, body: Data? = nil) async throws -> (status: Int, json: [String: Any]) {
        var request = HTTPClientRequest(url: urls[index] + path)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .seconds(40))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), json)
    }

    func height(_ index: Int) async -> UInt64? {
        (try? await request(index, "/v1/status"))?.json["height"] as? UInt64
    }

    func waitUntilServing(_ index: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while await height(index) == nil {
            if let process = processes[index], !process.isRunning {
                throw TestFailure("node \(index) exited with status \(process.terminationStatus) before it served; its log ends:\n\(logTail(index))")
            }
            guard ContinuousClock.now < deadline else { throw TestFailure("node \(index) did not start in 60 s; its log ends:\n\(logTail(index))") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The last lines of node `index`'s log, for a failure message (CI keeps no files).
    func logTail(_ index: Int, lines: Int = 20) -> String {
        let log = (try? String(contentsOf: homes[index].url.appendingPathComponent("node.log"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// A typed `tamga tx` subcommand, as a person would type it; returns the transaction id and the output.
    func tx(node: Int, keys: [String], party: String, _ arguments: [String]) async throws -> (id: String, output: String) {
        let keyArguments = keys.flatMap { ["--key", network.directory.appendingPathComponent("parties/\($0).key").path] }
        let result = try await runTamga(["tx"] + arguments + ["--node", urls[node]] + keyArguments + ["--party", party])
        let id = result.output.split(separator: "\n").first { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) } ?? ""
        #expect(result.status == 0 && result.output.contains("status: committed"), "\(arguments.first ?? "") by \(party): \(result.output)")
        return (id, result.output)
    }

    /// Submits and waits for finality; returns the id if the node acknowledged it as committed.
    func commit(_ envelope: SignedEnvelope, at index: Int) async throws -> String? {
        let reply = try await request(index, "/v1/transactions?wait=commit", body: try JSONEncoder().encode(envelope))
        guard reply.status == 200, reply.json["status"] as? String == "committed" else { return nil }
        return reply.json["id"] as? String
    }
}

/// Runs the `tamga` executable and returns its exit status and combined output. The wait is on
/// a thread of its own: blocking one of the few threads that run Swift tasks would stall every
/// other test (and the nodes they run) meanwhile.
func runTamga(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let executable = try tamgaExecutable()
    return try await offThePool {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Runs blocking work on a new thread and resumes with its result.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Four node processes on loopback, and a follower", .serialized)
struct ProcessNetworkTests {
    @Test("transactions sent to different nodes, the follower included, are committed by all; a validator killed with -9 under load catches up; the follower holds every block and state root and never votes; nothing acknowledged is lost")
    func killAndCatchUp() async throws {
        let cluster = try ProcessNetwork(validators: 4, followers: 1)
        defer { cluster.network.remove() }
        do {
            try await scenario(cluster)
        } catch {
            _ = try? await cluster.shutdown()
            throw error
        }
        let statuses = try await cluster.shutdown()
        #expect(statuses.allSatisfy { $0 == 0 }, "every node exits cleanly on SIGTERM: \(statuses)")
    }

    private func scenario(_ cluster: ProcessNetwork) async throws {
        // Nodes 0-3 are the validators; node 4 is a follower (a bank's own node).
        let nodes = 0..<5
        for index in nodes { try await cluster.waitUntilServing(index) }
        let follower = try await cluster.request(4, "/v1/status")
        #expect((follower.json["node"] as? [String: Any])?["follower"] as? Bool == true)
        let signers = try (1...8).map { try TestSigner("citizen-\($0)", in: cluster.network) }
        let acknowledged = Acknowledged()

        // Each citizen sends to its own node, every node gets some.
        func load(_ rounds: Int, nodes: [Int]) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (offset, signer) in signers.enumerated() {
                    let node = nodes[offset % nodes.count]
                    group.addTask {
                        for round in 0..<rounds {
                            let envelope = try transfer(signer, to: "citizen-\(9 + (offset + round) % 10)", amount: UInt64(10 + round))
                            if let id = try await cluster.commit(envelope, at: node) { await acknowledged.add(id) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await load(3, nodes: [0, 1, 2, 3, 4])
        #expect(await acknowledged.count == 24)

        // Kill validator 3 while load runs against the others.
        async let underLoad: Void = load(15, nodes: [0, 1, 2, 4])
        try await Task.sleep(for: .milliseconds(300))
        try await cluster.kill9(3)
        try await underLoad
        #expect(await acknowledged.count == 24 + 120, "the three remaining validators keep committing")
        let heightWhileDown = try #require(await cluster.height(0))

        // Validator 3 comes back with only what it had on disk and catches up.
        try cluster.launch(3)
        try await cluster.waitUntilServing(3)
        try await load(2, nodes: [3, 0])
        let deadline = ContinuousClock.now + .seconds(60)
        var heights: [UInt64] = []
        repeat {
            try await Task.sleep(for: .milliseconds(300))
            heights = []
            for index in nodes { heights.append(await cluster.height(index) ?? 0) }
        } while Set(heights).count > 1 && ContinuousClock.now < deadline
        let common = try #require(heights.min())
        #expect(common > heightWhileDown, "validator 3 caught up past the blocks it missed (heights \(heights))")

        // Every node holds the same blocks and the same state roots, and no commit carries a
        // signature by the follower's index.
        for height in 1...common {
            var hashes = Set<String>(), roots = Set<String>()
            for index in nodes {
                let block = try await cluster.request(index, "/v1/blocks/\(height)")
                let header = try #require(block.json["header"] as? [String: Any], "validator \(index) has no block \(height)")
                hashes.insert(header["hash"] as? String ?? "")
                roots.insert(header["stateRoot"] as? String ?? "")
                let signers = ((block.json["commit"] as? [String: Any])?["signatures"] as? [[String: Any]] ?? []).compactMap { $0["validator"] as? Int }
                #expect(!signers.isEmpty && signers.allSatisfy { $0 < 4 }, "block \(height)'s commit on node \(index): \(signers)")
            }
            #expect(hashes.count == 1 && roots.count == 1, "height \(height) differs between validators")
        }
        // The CLI client against the same network: a transfer signed and sent by `tamga tx send`.
        let citizen9 = cluster.network.directory.appendingPathComponent("parties/citizen-9.key").path
        let sent = try await runTamga(["tx", "send", "--node", cluster.urls[1], "--key", citizen9, "--party", "citizen-9",
                                 "--type", "token.transfer", "--body", #"{"to": "citizen-10", "amount": 77}"#])
        #expect(sent.status == 0 && sent.output.contains("status: committed"), "\(sent.output)")
        let unknown = try await runTamga(["query", "encumbrances", "99-999-999-9", "--node", cluster.urls[2]])
        #expect(unknown.status != 0 && unknown.output.contains("property.unknown"), "\(unknown.output)")

        // Each node's metrics, as Prometheus reads them, say what it did.
        for index in nodes {
            let metrics = try await cluster.call(index, .GET, "/metrics")
            let text = String(decoding: metrics.body, as: UTF8.self)
            let values = Dictionary(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line -> (String, Double)? in
                let parts = line.split(separator: " ")
                return parts.count == 2 ? (String(parts[0]), Double(parts[1]) ?? -1) : nil
            }, uniquingKeysWith: { first, _ in first })
            #expect(metrics.status == 200 && values["tamga_height"].map { $0 >= Double(common) } == true, "node \(index): \(text.prefix(400))")
            #expect((values["tamga_transactions_committed_total"] ?? 0) > 0 && values["tamga_state_prune_backlog_versions"] == 0, "node \(index): \(text.prefix(400))")
        }

        // No transaction acknowledged as committed is missing anywhere.
        for id in await acknowledged.ids {
            for index in nodes {
                let reply = try await cluster.request(index, "/v1/transactions/\(id)")
                #expect(reply.json["status"] as? String == "committed", "validator \(index) lacks acknowledged transaction \(id)")
            }
        }
    }
}

@Suite("The registry's processes through the CLI, against four node processes", .serialized)
struct BusinessFlowTests {
    /// `tamga tx send` as a person would type it; returns the transaction id and the output.
    func send(_ cluster: ProcessNetwork, node: Int, keys: [String], party: String, type: String, body: String) async throws -> (id: String, output: String) {
        let keyArguments = keys.flatMap { ["--key", cluster.network.directory.appendingPathComponent("parties/\($0).key").path] }
        let result = try await runTamga(["tx", "send", "--node", cluster.urls[node]] + keyArguments + ["--party", party, "--type", type, "--body", body])
        let id = result.output.split(separator: "\n").first { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) } ?? ""
        #expect(result.status == 0 && result.output.contains("status: committed"), "\(type) by \(party): \(result.output)")
        return (id, result.output)
    }

    func hash(_ text: String) -> String { Hash.sha256(Array(text.utf8)).hex }

    @Test("a sale with escrow, its invalidation by a court, a bank pledge with registrar review, and a key recovery")
    func flows() async throws {
        let cluster = try ProcessNetwork(validators: 4)
        defer { cluster.network.remove() }
        do {
            try await run(cluster)
        } catch {
            _ = try? await cluster.shutdown()
            throw error
        }
        _ = try await cluster.shutdown()
    }

    private func run(_ cluster: ProcessNetwork) async throws {
        for index in 0..<4 { try await cluster.waitUntilServing(index) }
        _ = try await send(cluster, node: 0, keys: ["registrar-1"], party: "registrar-1", type: "property.register", body: """
            {"cadastralNumber": "02-002-002-1", "kind": "apartment", "address": "Astana, flow street", "area": 7000,
             "owners": [{"party": "citizen-1", "share": "1"}], "titleDocumentHash": "\(hash("title 1"))"}
            """)
        _ = try await cluster.tx(node: 0, keys: ["registrar-1"], party: "registrar-1",
                   ["register-property", "--property", "02-002-002-4", "--kind", "house", "--address", "Astana, flow street 4",
                    "--area", "12000", "--owner", "citizen-4", "--title-hash", hash("title 4")])

        // Sale with escrow: listed by the owner, bought by another citizen; settles at once.
        _ = try await cluster.tx(node: 1, keys: ["citizen-1"], party: "citizen-1", ["list", "--property", "02-002-002-1", "--price", "50000000"])
        let sale = try await cluster.tx(node: 2, keys: ["citizen-2"], party: "citizen-2", ["buy", "--property", "02-002-002-1", "--price", "50000000"])
        #expect(sale.output.contains("deed.settled"), "\(sale.output)")

        // A court invalidates the sale by a new, signed transaction.
        let ruling = try await cluster.tx(node: 3, keys: ["court-1"], party: "court-1", ["court-invalidate", "--deed", sale.id, "--order-hash", hash("ruling 1")])
        #expect(ruling.output.contains("02-002-002-1"))

        // A bank pledge: proposed by the bank, signed by the owner, registered after review.
        let pledge = try await cluster.tx(node: 0, keys: ["bank-1"], party: "bank-1",
                            ["pledge-propose", "--property", "02-002-002-4", "--loan", "20000000", "--document", hash("loan agreement")])
        _ = try await cluster.tx(node: 1, keys: ["citizen-4"], party: "citizen-4", ["pledge-sign", "--pledge", pledge.id])
        _ = try await cluster.tx(node: 2, keys: ["registrar-1"], party: "registrar-1", ["pledge-register", "--pledge", pledge.id])
        let check = try await runTamga(["query", "encumbrances", "02-002-002-4", "--node", cluster.urls[3]])
        #expect(check.output.contains("isFree: false") && check.output.contains("pledge"), "\(check.output)")

        // The bank, which applied, sees the registration among its notifications; it can read the pledge.
        let bankKey = cluster.network.directory.appendingPathComponent("parties/bank-1.key").path
        let notifications = try await runTamga(["query", "notifications", "--node", cluster.urls[0], "--party", "bank-1", "--key", bankKey])
        #expect(notifications.status == 0 && notifications.output.contains("pledge.registered"), "\(notifications.output)")
        let pledgeRecord = try await runTamga(["query", "pledge", pledge.id, "--node", cluster.urls[1], "--party", "bank-1", "--key", bankKey])
        #expect(pledgeRecord.output.contains("status: registered"), "\(pledgeRecord.output)")

        // A deed with one seller and two buyers, proposed by a buyer; and a governance proposal.
        _ = try await cluster.tx(node: 0, keys: ["registrar-1"], party: "registrar-1",
                   ["register-property", "--property", "02-002-002-7", "--kind", "land", "--address", "Astana, flow street 7",
                    "--area", "50000", "--owner", "citizen-7", "--title-hash", hash("title 7")])
        let deed = try await cluster.tx(node: 1, keys: ["citizen-8"], party: "citizen-8",
                          ["deed-propose", "--property", "02-002-002-7", "--seller", "citizen-7:1",
                           "--buyer", "citizen-8:1/2:1000000", "--buyer", "citizen-9:1/2:1000000"])
        #expect(deed.output.contains("deed.opened"), "\(deed.output)")
        _ = try await cluster.tx(node: 2, keys: ["operator-0"], party: "operator-0", ["governance-propose", "--grant-role", "citizen-8:notary"])

        // Key recovery: citizen-5 lost its key; two registrars recover it to a new one.
        let newKey = SigningKey()
        let newKeyFile = cluster.network.directory.appendingPathComponent("parties/citizen-5-new.key")
        try Data(KeyFile.encode(newKey)).write(to: newKeyFile)
        let request = try await cluster.tx(node: 0, keys: ["registrar-1"], party: "registrar-1",
                             ["recovery-request", "--for-party", "citizen-5", "--new-key", newKeyFile.path, "--verification-hash", hash("identity check")])
        _ = try await cluster.tx(node: 1, keys: ["registrar-2"], party: "registrar-2", ["recovery", "approve", "--recovery", request.id])
        try await Task.sleep(for: .seconds(3))
        _ = try await cluster.tx(node: 2, keys: ["registrar-1"], party: "registrar-1", ["recovery", "complete", "--recovery", request.id])
        _ = try await cluster.tx(node: 3, keys: ["citizen-5-new"], party: "citizen-5", ["transfer", "--to", "citizen-6", "--amount", "5"])
        let old = try await runTamga(["tx", "send", "--node", cluster.urls[0], "--key", cluster.network.directory.appendingPathComponent("parties/citizen-5.key").path,
                                "--party", "citizen-5", "--type", "token.transfer", "--body", #"{"to": "citizen-6", "amount": 5}"#])
        #expect(old.status != 0 && old.output.contains("tx.unknown_key"), "the lost key no longer signs: \(old.output)")
    }
}

actor Acknowledged {
    private(set) var ids: [String] = []
    var count: Int { ids.count }
    func add(_ id: String) { ids.append(id) }
}
