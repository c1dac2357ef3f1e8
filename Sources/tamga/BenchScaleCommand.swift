import ArgumentParser
import Foundation
import Logging
import Synchronization
import TamgaConsensus
import TamgaCore
import TamgaLedger
import TamgaNetwork
import TamgaNode
import TamgaSimulation
import TamgaStorage

extension BenchCommand {
    /// A register of national size: built once, then measured.
    struct Scale: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scale",
            abstract: "Build a four-validator network whose chain registers millions of parties and properties, then measure a node on it. Build with -c release.",
            subcommands: [Build.self, Measure.self]
        )
    }
}

extension BenchCommand.Scale {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a network folder (like `tamga network init --demo`) and a chain on it that enrolls --parties parties and registers --properties properties.",
            discussion: """
                Every transaction is signed by registrar-1 and executed by the ledger; every block carries a
                commit signed by all four validators, exactly as consensus would have produced it, and is stored
                with its state by the node's own storage. The chain is built on node-0 and its database copied
                to the other three, which is the state a network reaches after those blocks. Start the nodes
                with `tamga node --home DIR/node-<i>` and load them with `tamga bench network --network DIR`.
                """
        )

        @Option(help: "The folder to create.")
        var out = "bench-scale"

        @Option(help: "Parties to enroll (each with its own key).")
        var parties = 10_000_000

        @Option(help: "Properties to register, each owned by one of the parties.")
        var properties = 10_000_000

        @Option(help: "Transactions per block (at most \(Limits.blockTransactionsMax)).")
        var block = Limits.blockTransactionsMax

        @Option(help: "The nodes' first peer port; API ports start 1,000 higher.")
        var peerBase = 27_700

        @Option(help: "State versions each node keeps (stateVersionsKept): every kept version holds the tree nodes its block rewrote, about 13 per record changed.")
        var versionsKept: UInt64 = 100

        func validate() throws {
            guard parties > 0, properties >= 0, versionsKept >= 2, (1...Limits.blockTransactionsMax).contains(block) else {
                throw ValidationError("parties must be positive, properties not negative, and a block holds 1...\(Limits.blockTransactionsMax) transactions")
            }
        }

        func run() throws {
            #if DEBUG
            print("note: this is a debug build; run `swift run -c release tamga bench scale build` for real numbers")
            #endif
            let directory = URL(fileURLWithPath: out)
            let total = parties + properties
            let blocks = (total + block - 1) / block
            // Blocks are a second apart and the last one lies in the past, so the network resumes at once.
            let now = UInt64(Date().timeIntervalSince1970 * 1_000)
            let genesisTime = Timestamp(millisecondsSinceEpoch: now - UInt64(blocks + 60) * 1_000)
            let setup = NetworkSetup(chainID: try ChainID("tamga-scale"), validators: 4, ports: .consecutive(validators: 4, peerBase: peerBase, apiBase: peerBase + 1_000),
                                     demo: true, citizens: 200, genesisTime: genesisTime, parameters: Parameters(minimumFee: Tiyn(1)))
            let genesis = try setup.write(to: directory)
            let homes = try NetworkSetup.nodeHomes(in: directory)
            for home in homes {
                var config = try home.loadConfig()
                config.stateVersionsKept = versionsKept
                try writeJSON(config, to: home.configURL)
            }
            let validatorKeys = try homes.map { try $0.loadIdentity().key }
            let registrarKey = try KeyFile.decode(Array(try Data(contentsOf: directory.appendingPathComponent("parties/registrar-1.key"))))
            let registrar = try PartyID("registrar-1")

            let store = try NodeStore(path: homes[0].databaseURL.path)
            try store.bind(toGenesis: genesis.hash)
            let config = try homes[0].loadConfig()
            let tree = try DiskTreeNodeStore(store, cacheBytes: config.stateCacheBytes)
            let map = AuthenticatedMap(store: tree)
            try map.apply(genesis.ledgerGenesis.stateUpdates(), as: 1)
            try store.saveState(tree.pendingBatches)
            tree.written()

            let ledger = Ledger(chainID: genesis.chainID, verifier: AlreadyVerified())
            let validators = try genesis.validatorSet()
            let cache = LedgerStateCache()
            var stateRoot = try map.rootHash(at: 1)
            var lastBlock: Block?
            var lastCommit: Commit?
            var time = genesisTime
            var nonce: UInt64 = 0
            let started = ContinuousClock.now
            var phases = (signing: 0.0, executing: 0.0, tree: 0.0, storing: 0.0)
            print("building \(parties) parties and \(properties) properties in \(blocks) blocks of \(block) under \(out)")

            for height in 1...UInt64(blocks) {
                let first = Int(height - 1) * block
                let indices = Array(first..<min(first + block, total))
                let firstNonce = nonce + 1
                nonce += UInt64(indices.count)
                let expiresAt = Timestamp(millisecondsSinceEpoch: time.rawValue + 3_600_000)
                // Keys and signatures on every core: they are most of the work.
                var clock = ContinuousClock.now
                func lap() -> Double {
                    let now = ContinuousClock.now
                    defer { clock = now }
                    return clock.duration(to: now).inSeconds
                }
                let envelopes = try signed(indices.count) { offset in
                    let payload = TransactionPayload(chainID: genesis.chainID, signer: registrar, nonce: firstNonce + UInt64(offset), fee: Tiyn(1),
                                                     expiresAt: expiresAt,
                                                     action: try action(for: indices[offset]))
                    // An enrolment carries the new party's signature too: its proof of holding the key.
                    let keys = indices[offset] < parties ? [registrarKey, try Self.key(indices[offset])] : [registrarKey]
                    return try SignedEnvelope.signing(payload.encoded(), with: keys)
                }
                let prepared = envelopes.map(PreparedTransaction.init)
                phases.signing += lap()
                let outcome = try ledger.execute(prepared, blockTime: time, state: MapSnapshot(map: map, version: height), cache: (cache, stateRoot))
                if let refused = outcome.receipts.first(where: { !$0.isCommitted }) {
                    throw CommandFailure("block \(height): a registration was refused: \(refused.rejectionCode ?? "?") \(refused.rejectionMessage ?? "")")
                }
                let header = BlockHeader(chainID: genesis.chainID, height: Height(height), time: time, previousBlockHash: lastBlock?.hash ?? .zero,
                                         lastCommitHash: lastCommit?.hash ?? .zero, transactionsRoot: Block.transactionsRoot(envelopes),
                                         evidenceRoot: Block.evidenceRoot([]), stateRoot: stateRoot, validatorSetHash: validators.hash,
                                         proposer: ValidatorIndex(UInt16(height % 4)))
                let newBlock = Block(header: header, transactions: envelopes, lastCommit: lastCommit)
                let commitTime = Timestamp(millisecondsSinceEpoch: time.rawValue + 1_000)
                let commit = Commit(height: Height(height), round: Round(0), blockHash: newBlock.hash, signatures: validatorKeys.enumerated().map { index, key in
                    let vote = Vote(kind: .precommit, chainID: genesis.chainID, height: Height(height), round: Round(0), blockHash: newBlock.hash,
                                    timestamp: commitTime, validator: ValidatorIndex(UInt16(index)))
                    return CommitSignature(validator: vote.validator, timestamp: commitTime, signature: vote.signed(with: key).signature)
                })
                phases.executing += lap()
                stateRoot = try map.apply(outcome.updates, as: height + 1)
                phases.tree += lap()
                cache.advance(to: stateRoot)
                let pruneBefore = config.oldestStateVersionKept(latest: height + 1)
                if let pruneBefore { tree.prune(keepingFrom: pruneBefore) }
                try store.commit(CommittedBlock(block: newBlock, commit: commit, receipts: outcome.receipts,
                                                citations: Node.citations(in: prepared, receipts: outcome.receipts)),
                                 tree: tree.pendingBatches, pruneBefore: pruneBefore)
                tree.written()
                phases.storing += lap()
                (lastBlock, lastCommit) = (newBlock, commit)
                time = BlockTime.weightedMedian(of: commit, validators: validators)
                if height % 20 == 0 || height == UInt64(blocks) {
                    let seconds = started.duration(to: .now).inSeconds
                    // Written at once, unbuffered, so that a log shows the progress as it happens.
                    FileHandle.standardOutput.write(Data((String(format: "block %d of %d: %d records, %.0f transactions/s, cache %d MiB, resident %d MiB (s: signing %.0f, executing %.0f, tree %.0f, storing %.0f)",
                                 height, blocks, first + indices.count, Double(first + indices.count) / seconds, tree.cacheBytes >> 20, residentMiB(),
                                 phases.signing, phases.executing, phases.tree, phases.storing) + "\n").utf8))
                }
            }
            try store.checkpoint()
            for home in homes.dropFirst() {
                try FileManager.default.copyItem(at: homes[0].databaseURL, to: home.databaseURL)
            }
            let bytes = (try FileManager.default.attributesOfItem(atPath: homes[0].databaseURL.path)[.size] as? Int) ?? 0
            let seconds = started.duration(to: .now).inSeconds
            print(String(format: "built %d transactions in %d blocks in %.0f s (%.0f/s); each node's database is %.1f GiB",
                         total, blocks, seconds, Double(total) / seconds, Double(bytes) / Double(1 << 30)))
        }

        /// Parties come first (`scale-<i>`), then properties, each owned by party `i mod parties`.
        private func action(for index: Int) throws -> Action {
            if index < parties {
                return .enroll(Enroll(party: try Self.party(index), publicKey: try Self.key(index).publicKey,
                                      identityCommitment: .sha256(Array("scale identity \(index)".utf8)), name: "Party \(index)"))
            }
            let property = index - parties
            return .registerProperty(RegisterProperty(
                cadastralNumber: try Self.number(property), kind: "apartment", address: "Astana, scale street \(property)",
                area: AreaHundredths(UInt64(4_000 + property % 9_000)), location: nil,
                owners: [Ownership(party: try Self.party(property % parties), share: .whole)], titleDocumentHash: .sha256(Array("title \(property)".utf8))))
        }

        static func party(_ index: Int) throws -> PartyID { try PartyID("scale-\(index)") }
        static func key(_ index: Int) throws -> SigningKey { try SigningKey(seed: Hash.sha256(Array("scale key \(index)".utf8)).bytes) }
        static func number(_ index: Int) throws -> CadastralNumber {
            // Region, district and quarter tell 80 million properties apart; the parcel keeps six digits.
            try CadastralNumber(String(format: "%02d-%03d-%03d-%d", 20 + index % 80, index / 80 % 1_000, index / 80_000 % 1_000, index % 1_000_000))
        }

        /// `count` envelopes made by `make`, on every core.
        private func signed(_ count: Int, _ make: @Sendable (Int) throws -> SignedEnvelope) throws -> [SignedEnvelope] {
            let results = Mutex<[Int: Result<SignedEnvelope, any Error>]>([:])
            let workers = ProcessInfo.processInfo.activeProcessorCount
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var mine: [Int: Result<SignedEnvelope, any Error>] = [:]
                for offset in stride(from: worker, to: count, by: workers) { mine[offset] = Result { try make(offset) } }
                results.withLock { $0.merge(mine) { first, _ in first } }
            }
            return try results.withLock { all in try (0..<count).map { try all[$0]!.get() } }
        }
    }

    struct Measure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a node folder built by `bench scale build` as a restarting node does, read encumbrances cold and warm, and report time and memory.",
            discussion: "Run it on a stopped node. The node's cache starts empty; the operating system's file cache is left as it is (report whether it was dropped)."
        )

        @Option(help: "The node's folder, e.g. bench-scale/node-0.")
        var home = "bench-scale/node-0"

        @Option(help: "Encumbrance checks per pass (one cold pass, then the same properties warm).")
        var reads = 100_000

        @Option(help: "Properties the chain registered (as given to `build`).")
        var properties = 10_000_000

        func run() async throws {
            #if DEBUG
            print("note: this is a debug build; run `swift run -c release tamga bench scale measure` for real numbers")
            #endif
            print("resident before opening: \(residentMiB()) MiB")
            let opening = ContinuousClock.now
            let node = try Node(home: NodeHome(URL(fileURLWithPath: home)), logger: Logger(label: "tamga.bench"))
            let opened = opening.duration(to: .now).inSeconds
            let status = await node.status()
            print(String(format: "restart (open, check the last block, its commit and the state roots, re-execute it): %.2f s at height %d", opened, status.height.rawValue))
            print("resident after opening: \(residentMiB()) MiB")
            var random = SplitMix64(seed: 0x7363_616c_65)
            let numbers = try (0..<reads).map { _ in try Build.number(Int(random.next() % UInt64(max(1, properties)))) }
            for pass in ["cold", "warm"] {
                var found = 0
                let started = ContinuousClock.now
                for number in numbers where try await node.encumbrances(number) != nil { found += 1 }
                let seconds = started.duration(to: .now).inSeconds
                guard found == reads else { throw CommandFailure("\(reads - found) of the properties read are not registered") }
                print(String(format: "encumbrance checks, %@ cache: %.0f/s (%d in %.2f s)", pass, Double(reads) / seconds, reads, seconds))
            }
            print("resident after reading: \(residentMiB()) MiB (peak \(residentMiB(peak: true)) MiB)")
        }
    }
}

/// This process's resident memory in MiB (`peak`: the high-water mark), from /proc/self/status.
func residentMiB(peak: Bool = false) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    let field = peak ? "VmHWM:" : "VmRSS:"
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
          let kibibytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
    return kibibytes / 1_024
}
