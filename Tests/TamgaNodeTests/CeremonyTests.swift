import Foundation
import TamgaCore
import TamgaLedger
import TamgaNode
import Testing

@Suite("A genesis ceremony through the CLI", .serialized)
struct CeremonyTests {
    @Test("a node refuses a genesis file with a party or key given twice, or opening balances past a 64-bit supply")
    func genesisFileIsChecked() throws {
        let network = try TestNetwork(validators: 1)
        defer { network.remove() }
        let url = network.homes[0].genesisURL
        let good = try GenesisFile.load(url)
        for (change, reason) in [({ (g: inout GenesisFile) in g.parties.append(g.parties[0]) }, "appears twice"),
                                 ({ (g: inout GenesisFile) in g.parties[1].keys = g.parties[0].keys }, "given twice"),
                                 ({ (g: inout GenesisFile) in g.parties[0].openingBalance = Tiyn(UInt64.max) }, "64-bit supply")] {
            var bad = good
            change(&bad)
            try writeJSON(bad, to: url)
            #expect(throws: NodeFileError.self, "\(reason)") { _ = try GenesisFile.load(url) }
            #expect((try? GenesisFile.load(url)) == nil)
            #expect(bad.ledgerGenesis.problem?.contains(reason) == true, "\(bad.ledgerGenesis.problem ?? "no problem found")")
        }
        try writeJSON(good, to: url)
        #expect(try GenesisFile.load(url) == good)
    }

    @Test("four organizations make their keys apart, a coordinator assembles genesis from public files, the four nodes run it, and a bank's follower joins them")
    func ceremony() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tamga-ceremony-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        func run(_ arguments: [String]) async throws -> String {
            let result = try await runTamga(arguments)
            #expect(result.status == 0, "tamga \(arguments.prefix(2).joined(separator: " ")): \(result.output)")
            return result.output
        }
        func refused(_ arguments: [String], saying text: String) async throws {
            let result = try await runTamga(arguments)
            #expect(result.status != 0 && result.output.contains(text), "tamga \(arguments.prefix(2).joined(separator: " ")): \(result.output)")
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let ports = freePorts(10)

        // Each organization on its own machine: keys stay in its folder; only candidate.json leaves.
        for index in 0..<4 {
            _ = try await run(["ceremony", "validator", "--party", "operator-org\(index)", "--name", "Organization \(index)",
                               "--identity", "BIN 00000000000\(index)", "--opening-balance", "1000000",
                               "--validator-name", "org\(index)", "--peer-host", "127.0.0.1", "--peer-port", String(ports[index]),
                               "--out", path("org\(index)")])
        }
        let candidate = try String(contentsOfFile: path("org0/candidate.json"), encoding: .utf8)
        #expect(!candidate.contains("privateKey") && !candidate.contains("BIN"), "the candidacy carries no secret and no identity number")
        for secret in ["org0/validator.key", "org0/operator.key", "org0/operator.salt"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path(secret))
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(secret)")
        }
        let salt = try String(contentsOfFile: path("org0/operator.salt"), encoding: .utf8)
        #expect(!candidate.contains(salt), "the salt stays with the organization")
        // A registrar of genesis, from a key made with `tamga keys new`.
        _ = try await run(["keys", "new", "--out", path("registrar.key")])
        _ = try await run(["ceremony", "party", "--party", "registrar-1", "--name", "Registrar 1", "--identity", "BIN 100", "--role", "registrar",
                           "--opening-balance", "500000", "--key", path("registrar.key"), "--out", path("registrar-1.json")])

        // The coordinator refuses a repeated candidacy, then assembles genesis.
        let validators = (0..<4).flatMap { ["--validator", path("org\($0)/candidate.json")] }
        try await refused(["ceremony", "genesis", "--chain-id", "tamga-ceremony", "--out", path("bad")] + validators + ["--validator", path("org0/candidate.json")],
                          saying: "appears twice")
        // The files are not signed: a party file edited to claim a governance vote, or an opening
        // balance past a 64-bit supply (which would trap every node at start), is refused.
        func edited(_ name: String, _ change: (inout [String: Any]) -> Void) throws {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("registrar-1.json")))) as? [String: Any])
            change(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path(name)))
        }
        try edited("smuggled.json") { $0["roles"] = ["validator_operator"] }
        try await refused(["ceremony", "genesis", "--chain-id", "tamga-ceremony", "--party", path("smuggled.json"), "--out", path("bad")] + validators,
                          saying: "validator_operator")
        try edited("rich.json") { $0["openingBalance"] = UInt64.max }
        try await refused(["ceremony", "genesis", "--chain-id", "tamga-ceremony", "--party", path("rich.json"), "--out", path("bad")] + validators,
                          saying: "64-bit supply")
        #expect(!FileManager.default.fileExists(atPath: path("bad")), "nothing is written for a refused genesis")
        let assembled = try await run(["ceremony", "genesis", "--chain-id", "tamga-ceremony", "--party", path("registrar-1.json"),
                                       "--out", path("network")] + validators)
        let genesis = try GenesisFile.load(URL(fileURLWithPath: path("network/genesis.json")))
        #expect(assembled.contains(genesis.hash.hex))
        #expect(genesis.validators.map(\.name) == ["org0", "org1", "org2", "org3"])
        #expect(genesis.parties.map(\.id.rawValue) == ["operator-org0", "operator-org1", "operator-org2", "operator-org3", "registrar-1"])
        #expect(genesis.parties.map(\.roles) == [[.validatorOperator], [.validatorOperator], [.validatorOperator], [.validatorOperator], [.registrar]])
        #expect(assembled.contains("party registrar-1: registrar, opening balance 500000 tiyn"), "the coordinator sees what it assembles")

        // Each organization writes its node from the public files and its own key; a key that is
        // not a validator's is refused.
        try await refused(["ceremony", "node", "--genesis", path("network/genesis.json"), "--peers", path("network/peers.json"),
                           "--key", path("registrar.key"), "--out", path("stranger")], saying: "is not the key of any validator")
        for index in 0..<4 {
            _ = try await run(["ceremony", "node", "--genesis", path("network/genesis.json"), "--peers", path("network/peers.json"),
                               "--key", path("org\(index)/validator.key"), "--api-port", String(ports[4 + index]), "--out", path("node\(index)")])
            let config = try NodeHome(URL(fileURLWithPath: path("node\(index)"))).loadConfig()
            #expect(config.validator == UInt16(index) && config.peerPort == ports[index] && config.peers.count == 3)
        }

        // A bank runs a follower: its own node, fed by every validator, which never votes.
        try await refused(["ceremony", "follower", "--genesis", path("network/genesis.json"), "--peers", path("network/peers.json"),
                           "--index", "3", "--peer-host", "127.0.0.1", "--out", path("wrong")], saying: "is a genesis validator's")
        let joined = try await run(["ceremony", "follower", "--genesis", path("network/genesis.json"), "--peers", path("network/peers.json"),
                                    "--index", "4", "--peer-host", "127.0.0.1", "--peer-port", String(ports[8]), "--api-port", String(ports[9]),
                                    "--out", path("node4")])
        let entryLine = try #require(joined.split(separator: "\n").first { $0.hasPrefix("{") }, "\(joined)")
        let entry = try JSONDecoder().decode(NodeConfig.Peer.self, from: Data(entryLine.utf8))
        #expect(entry.validator == 4 && entry.port == ports[8] && entry.publicKey != nil)
        for index in 0..<4 {
            let home = NodeHome(URL(fileURLWithPath: path("node\(index)")))
            var config = try home.loadConfig()
            config.peers.append(entry)
            try writeJSON(config, to: home.configURL)
        }

        // The five nodes run the network: a registrar's transaction is committed and every node agrees.
        var processes: [Process] = []
        defer {
            for process in processes where process.isRunning { process.terminate() }
            for process in processes { process.waitUntilExit() }
        }
        for index in 0..<5 {
            let process = Process()
            process.executableURL = try tamgaExecutable()
            process.arguments = ["node", "--home", path("node\(index)"), "--log-level", "notice"]
            let log = path("node\(index)/node.log")
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append(process)
        }
        let node = "http://127.0.0.1:\(ports[4])"
        var committed = ""
        let deadline = ContinuousClock.now + .seconds(90)
        while !committed.contains("status: committed"), ContinuousClock.now < deadline {
            committed = (try await runTamga(["tx", "transfer", "--to", "operator-org1", "--amount", "1000", "--key", path("registrar.key"),
                                              "--party", "registrar-1", "--node", node])).output
            if !committed.contains("status: committed") { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(committed.contains("status: committed"), "\(committed)")
        var hashes: Set<String> = []
        for index in 0..<5 {
            let url = "http://127.0.0.1:\(index < 4 ? ports[4 + index] : ports[9])"
            var block = ""
            let until = ContinuousClock.now + .seconds(30)
            while !block.contains("hash"), ContinuousClock.now < until {
                block = (try await runTamga(["query", "block", "2", "--node", url, "--json"])).output
                if !block.contains("hash") { try await Task.sleep(for: .milliseconds(300)) }
            }
            let header = (try JSONSerialization.jsonObject(with: Data(block.utf8)) as? [String: Any])?["header"] as? [String: Any]
            hashes.insert(header?["hash"] as? String ?? "node \(index) has no block 2")
        }
        #expect(hashes.count == 1, "every node, the follower too, holds the same block 2: \(hashes)")
    }
}
