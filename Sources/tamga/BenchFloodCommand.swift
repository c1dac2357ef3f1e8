import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TamgaCore
import TamgaLedger
import TamgaNode

extension BenchCommand {
    /// Measures whether load on one node's public API slows consensus: the block interval with a
    /// steady trickle of transactions, then with the same trickle while one client floods
    /// validator 0 with expensive reads and junk submissions.
    struct Flood: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "flood",
            abstract: "Measure a running network's block interval without and with a flood of API requests against validator 0, and print the ratio.",
            discussion: """
                Both phases carry the same trickle of signed transfers (--rate), so that blocks are made at the
                network's pace rather than its empty-block interval. The flood cycles, over --flooders
                keep-alive connections, through pages of 500 blocks, pages of 500 offers, passport reads with a
                wrong access code, challenges, and envelopes whose signature is forged (each costs a signature
                check). Intervals are between consecutive blocks' BFT times. Start the network first, e.g.
                `swift run -c release tamga devnet`.
                """
        )

        @Option(help: "The network's folder (node-<i>/config.json and parties/).")
        var network = "devnet"

        @Option(help: "Seconds per phase.")
        var duration = 30

        @Option(help: "Valid transfers per second in both phases.")
        var rate = 50

        @Option(help: "Connections flooding validator 0 in the second phase.")
        var flooders = 64

        func run() async throws {
            let directory = URL(fileURLWithPath: network)
            let homes = try NetworkSetup.nodeHomes(in: directory)
            guard !homes.isEmpty else { throw CommandFailure("no node folders in \(network); start the devnet first") }
            let chain = try homes[0].loadGenesis().chainID
            let endpoints = try homes.map { home in
                let config = try home.loadConfig()
                return NodeEndpoint(host: config.apiHost, port: config.apiPort)
            }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await measure(http: http, endpoints: endpoints, chain: chain, directory: directory)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }

        private func measure(http: HTTPClient, endpoints: [NodeEndpoint], chain: ChainID, directory: URL) async throws {
            let clients = endpoints.map { NodeClient(baseURL: "http://\($0.host):\($0.port)", http: http) }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("parties").path)
                .filter { $0.hasPrefix("citizen-") && $0.hasSuffix(".key") }.map { String($0.dropLast(4)) }.sorted()
            guard names.count >= 2 else { throw CommandFailure("the network has no demo citizens; create it with `tamga devnet`") }
            var wallets: [Wallet] = []
            for name in names.prefix(50) { wallets.append(try await Wallet.load(name, network: directory, client: clients[0])) }

            print("phase 1: \(rate) transfers/s for \(duration) s, no flood ...")
            let quiet = try await phase(clients: clients, wallets: wallets, chain: chain, flood: nil)
            print("phase 2: the same, with \(flooders) connections flooding validator 0 ...")
            let junk = try forgedEnvelopes(wallets: wallets, chain: chain)
            let flood = FloodCounts()
            let loud = try await phase(clients: clients, wallets: wallets, chain: chain, flood: (endpoints[0], junk, flood))
            print("")
            print("without flood: \(quiet.summary)")
            print("with flood:    \(loud.summary)")
            let answers = flood.snapshot
            print("flood: \(answers.values.reduce(0, +)) requests in \(duration) s (\(answers.values.reduce(0, +) / max(1, duration))/s): "
                + answers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print(String(format: "block interval ratio (with / without): mean %.2f, p90 %.2f", loud.mean / quiet.mean, loud.p90 / quiet.p90))
        }

        struct Intervals {
            let blocks: Int
            let mean: Double
            let p50: Double
            let p90: Double
            let max: Double

            var summary: String {
                String(format: "%d blocks, interval mean %.0f ms, p50 %.0f ms, p90 %.0f ms, max %.0f ms", blocks, mean, p50, p90, max)
            }
        }

        /// One phase: the trickle (and the flood, if given) for `duration` seconds; the intervals
        /// of the blocks decided meanwhile.
        private func phase(clients: [NodeClient], wallets: [Wallet], chain: ChainID,
                           flood: (endpoint: NodeEndpoint, junk: [ByteBuffer], counts: FloodCounts)?) async throws -> Intervals {
            // The blocks are read from the last validator, whose API the flood leaves alone (the
            // flood spends validator 0's budgets for this machine's address).
            let reader = clients[clients.count - 1]
            let first = try await reader.get("/v1/status", as: NodeClient.StatusReply.self)?.height ?? 0
            let end = ContinuousClock.now + .seconds(duration)
            let flooding = flood.map { flood in
                (0..<flooders).map { index in
                    Task { await Self.flood(flood.endpoint, junk: flood.junk, offset: index, until: end, counts: flood.counts) }
                }
            } ?? []
            var sent = 0
            let started = ContinuousClock.now
            while ContinuousClock.now < end {
                let due = Int(Double(rate) * started.duration(to: .now).inSeconds)
                while sent < due {
                    let wallet = wallets[sent % wallets.count]
                    let envelope = try wallet.sign(.transfer(Transfer(to: wallets[(sent + 1) % wallets.count].id, amount: Tiyn(1))), chain: chain)
                    let client = clients[sent % clients.count]
                    Task { _ = try? await client.submit(envelope, waitForCommit: false) }
                    sent += 1
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            for task in flooding { await task.value }
            let last = try await reader.get("/v1/status", as: NodeClient.StatusReply.self)?.height ?? first
            var times: [UInt64] = []
            for height in (first + 1)...max(first + 1, last) {
                guard let block = try await reader.get("/v1/blocks/\(height)", as: NodeClient.BlockReply.self) else { break }
                times.append(block.header.time)
            }
            let intervals = zip(times.dropFirst(), times).map { Double($0 - $1) }.sorted()
            guard !intervals.isEmpty else { throw CommandFailure("no blocks were decided in the phase") }
            func percentile(_ p: Double) -> Double { intervals[min(intervals.count - 1, Int(Double(intervals.count) * p))] }
            return Intervals(blocks: times.count, mean: intervals.reduce(0, +) / Double(intervals.count),
                             p50: percentile(0.5), p90: percentile(0.9), max: intervals.last ?? 0)
        }

        /// Envelopes with real payloads of the citizens and forged signatures: each costs the node
        /// a decode and a signature check before it is refused.
        private func forgedEnvelopes(wallets: [Wallet], chain: ChainID) throws -> [ByteBuffer] {
            let forger = SigningKey()
            let encoder = JSONEncoder()
            return try (0..<2_000).map { index in
                let wallet = wallets[index % wallets.count]
                let payload = TransactionPayload(chainID: chain, signer: wallet.id, nonce: UInt64(1_000_000 + index), fee: Tiyn(100),
                                                 expiresAt: Timestamp(millisecondsSinceEpoch: UInt64(Date().timeIntervalSince1970 * 1_000) + 3_600_000),
                                                 action: .transfer(Transfer(to: wallets[(index + 1) % wallets.count].id, amount: Tiyn(1))))
                let bytes = payload.encoded()
                let envelope = try SignedEnvelope(payload: bytes, signatures: [EnvelopeSignature(keyID: wallet.key.publicKey.keyID, signature: forger.sign(bytes))])
                return ByteBuffer(bytes: try encoder.encode(envelope))
            }
        }

        /// One flooding connection: the request mix, as fast as the node answers, until `end`.
        private static func flood(_ endpoint: NodeEndpoint, junk: [ByteBuffer], offset: Int, until end: ContinuousClock.Instant, counts: FloodCounts) async {
            var step = offset
            while ContinuousClock.now < end {
                do {
                    try await LoadConnection.with(host: endpoint.host, port: endpoint.port) { connection in
                        while ContinuousClock.now < end, connection.isReusable {
                            let answer: (status: Int, body: ByteBuffer)
                            switch step % 6 {
                            case 0: answer = try await connection.request(.GET, "/v1/blocks?from=1&limit=500")
                            case 1: answer = try await connection.request(.GET, "/v1/offers?limit=500")
                            case 2: answer = try await connection.request(.GET, "/v1/properties/01-001-001-1", headers: [("X-Access-Code", "guess-\(step)")])
                            case 3: answer = try await connection.request(.POST, "/v1/auth/challenge")
                            default: answer = try await connection.post("/v1/transactions", json: junk[step % junk.count])
                            }
                            counts.count(answer.status)
                            step += 1
                        }
                    }
                } catch {
                    counts.count(0)
                }
            }
        }
    }
}

/// The flood's answers by status class, 429 (rate limited) and 503 (catching up, or a full
/// mempool) apart; 0: the connection failed.
final class FloodCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ status: Int) {
        let key = status == 0 ? "failed" : status == 429 || status == 503 ? "\(status)" : "\(status / 100)xx"
        counts.withLock { $0[key, default: 0] += 1 }
    }

    var snapshot: [String: Int] { counts.withLock { $0 } }
}
