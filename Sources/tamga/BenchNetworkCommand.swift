import ArgumentParser
import AsyncHTTPClient
import Foundation
import Histogram
import NIOCore
import TamgaCore
import TamgaLedger
import TamgaNode
import TamgaSimulation

extension BenchCommand {
    /// Loads a running network through its HTTP API and reports throughput and finality latency.
    struct NetworkLoad: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "network",
            abstract: "Drive a running network (the devnet by default) with signed transactions and report committed transactions/s and finality latency.",
            discussion: """
                The mix: 96% token transfers between citizens, 3% property registrations by the registrars,
                1% token deposits by the issuer, all signed before the run starts. Each sender always talks to the same node. Latency is from
                the moment a transaction is submitted until a block holding it is seen on validator 0
                (polled every 20 ms). "Sustained" counts the commits seen from a tenth of the window to its
                end; when finality takes seconds, part of the backlog of the first seconds lands in it, so
                it can exceed the offered rate; the rate over the whole window (filling included) is the
                lower bound. Start the network first, e.g. `swift run -c release tamga devnet`.
                """
        )

        @Option(help: "The network's folder (node-<i>/config.json and parties/).")
        var network = "devnet"

        @Option(help: "Transactions per second to offer; 0 offers them as fast as the senders' limits allow.")
        var rate = 1_000

        @Option(help: "Seconds to offer load for.")
        var duration = 60

        @Option(help: "Concurrent HTTP submissions, spread evenly over the nodes (one connection each).")
        var connections = 64

        func run() async throws {
            let directory = URL(fileURLWithPath: network)
            let homes = try NetworkSetup.nodeHomes(in: directory)
            guard !homes.isEmpty else { throw CommandFailure("no node folders in \(network); start the devnet first") }
            let chain = try homes[0].loadGenesis().chainID
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await load(through: http, homes: homes, chain: chain, directory: directory)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }

        private func load(through http: HTTPClient, homes: [NodeHome], chain: ChainID, directory: URL) async throws {
            let endpoints = try homes.map { home in
                let config = try home.loadConfig()
                return NodeEndpoint(host: config.apiHost, port: config.apiPort)
            }
            let clients = endpoints.map { NodeClient(baseURL: "http://\($0.host):\($0.port)", http: http) }
            let partyNames = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("parties").path)
                .filter { $0.hasPrefix("citizen-") && $0.hasSuffix(".key") }.map { String($0.dropLast(4)) }.sorted()
            guard partyNames.count >= 2 else { throw CommandFailure("the network has no demo citizens; create it with `tamga devnet` or `network init --demo`") }
            print("loading \(partyNames.count) citizens' keys and nonces ...")
            var citizens: [Wallet] = []
            for name in partyNames { citizens.append(try await Wallet.load(name, network: directory, client: clients[0])) }
            let registrars = [try await Wallet.load("registrar-1", network: directory, client: clients[0]),
                              try await Wallet.load("registrar-2", network: directory, client: clients[0])]
            let issuer = try await Wallet.load("issuer-1", network: directory, client: clients[0])
            let run = LoadRun(clients: clients)
            let startHeight = try await clients[0].get("/v1/status", as: NodeClient.StatusReply.self)?.height ?? 0

            // Every transaction is signed and encoded before the clock starts, so that the load
            // generator's own work does not compete with the nodes for the cores.
            let total = rate == 0 ? 3_000 * duration : rate * duration
            print("signing \(total) transactions ...")
            var random = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
            let prefix = Int(random.next() % 90) + 10
            var plan: [Planned] = []
            plan.reserveCapacity(total)
            let encoder = JSONEncoder()
            for sequence in 0..<total {
                let roll = random.next() % 100
                let wallet: Wallet
                let action: Action
                if roll < 3 {
                    wallet = registrars[sequence % 2]
                    action = .registerProperty(RegisterProperty(
                        cadastralNumber: try CadastralNumber(String(format: "%02d-%03d-%03d-%d", prefix, sequence % 1_000, (sequence / 1_000) % 1_000, sequence)),
                        kind: "apartment", address: "bench \(sequence)", area: AreaHundredths(6_000), location: nil,
                        owners: [Ownership(party: citizens[sequence % citizens.count].id, share: .whole)], titleDocumentHash: .sha256(Array("bench \(sequence)".utf8))))
                } else if roll < 4 {
                    wallet = issuer
                    action = .mint(Mint(to: citizens[sequence % citizens.count].id, amount: Tiyn(10_000), depositReference: .sha256(Array("bench \(sequence)".utf8))))
                } else {
                    let from = Int(random.next() % UInt64(citizens.count))
                    let to = (from + 1 + Int(random.next() % UInt64(citizens.count - 1))) % citizens.count
                    wallet = citizens[from]
                    action = .transfer(Transfer(to: citizens[to].id, amount: Tiyn(random.next() % 1_000 + 1)))
                }
                let envelope = try wallet.sign(action, chain: chain)
                plan.append(Planned(wallet: wallet, id: envelope.transactionID.description, node: Int(UInt(bitPattern: wallet.id.rawValue.hashValue) % UInt(clients.count)),
                                    body: ByteBuffer(bytes: try encoder.encode(envelope))))
            }

            // The workers submit what the pacer queues, each over its own connection to one node;
            // each sender always talks to the same node.
            let queues = endpoints.map { _ in AsyncStream<Planned>.makeStream() }
            let started = ContinuousClock.now
            let window = Duration.seconds(duration)
            let watcher = Task { try await run.watch(from: startHeight + 1, started: started, window: window) }
            let workers = zip(endpoints, queues).flatMap { endpoint, queue in
                (0..<max(1, connections / endpoints.count)).map { _ in Task { await run.submitAll(queue.stream, to: endpoint) } }
            }
            func enqueue(_ planned: Planned) { queues[planned.node].continuation.yield(planned) }
            var sent = 0
            var next = 0
            // A sender has at most `LoadRun.waitingPerSenderMax` transactions waiting; a sender's
            // next ones are held back, in order, until its earlier ones are committed, while the
            // other senders' go ahead. Held transactions are kept per sender, and each round asks
            // the bookkeeping once for all held senders, so that a saturated network costs the
            // pacer little.
            var held = HeldTransactions()
            print("offering \(rate == 0 ? "as many as possible" : "\(rate)") transactions/s for \(duration) s to \(clients.count) nodes ...")
            while ContinuousClock.now < started + window, next < plan.count || !held.isEmpty {
                let elapsed = started.duration(to: .now)
                let due = rate == 0 ? sent + 200 : Int(Double(rate) * elapsed.inSeconds)
                if sent < due, !held.isEmpty {
                    let granted = await run.reserve(held.senders.map { ($0, held.count(of: $0)) }, total: due - sent)
                    for (sender, count) in zip(held.senders, granted) {
                        for index in held.release(count, of: sender) { enqueue(plan[index]) }
                        sent += count
                    }
                }
                // Looking ahead past held senders is bounded, so a saturated network does not
                // make the pacer walk the whole plan.
                while sent < due, next < plan.count, held.total < 10_000 {
                    let sender = ObjectIdentifier(plan[next].wallet)
                    if held.count(of: sender) == 0, await run.reserve([(sender, 1)], total: 1) == [1] {
                        enqueue(plan[next])
                        sent += 1
                    } else {
                        held.hold(next, of: sender)
                    }
                    next += 1
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            for queue in queues { queue.continuation.finish() }
            for worker in workers { await worker.value }
            try await watcher.value
            await run.report(offered: sent, window: window, clients: clients)
        }
    }
}

/// The pacer's transactions held back because their sender has as many waiting as allowed:
/// per sender in plan order, and the senders in the order they were first held.
struct HeldTransactions {
    private(set) var senders: [ObjectIdentifier] = []
    private var queues: [ObjectIdentifier: [Int]] = [:]
    private(set) var total = 0

    var isEmpty: Bool { total == 0 }

    func count(of sender: ObjectIdentifier) -> Int { queues[sender]?.count ?? 0 }

    mutating func hold(_ index: Int, of sender: ObjectIdentifier) {
        if queues[sender] == nil { senders.append(sender) }
        queues[sender, default: []].append(index)
        total += 1
    }

    /// Takes the first `count` held transactions of `sender`.
    mutating func release(_ count: Int, of sender: ObjectIdentifier) -> ArraySlice<Int> {
        guard count > 0, let queue = queues[sender] else { return [] }
        let released = queue.prefix(count)
        total -= released.count
        if released.count == queue.count {
            queues[sender] = nil
            senders.removeAll { $0 == sender }
        } else {
            queues[sender] = Array(queue.dropFirst(released.count))
        }
        return released
    }
}

/// A transaction signed ahead of the run.
struct Planned: Sendable {
    let wallet: Wallet
    let id: String
    /// The node it is submitted to.
    let node: Int
    /// The envelope as JSON.
    let body: ByteBuffer
}

/// Where a node's HTTP API listens.
struct NodeEndpoint: Sendable {
    let host: String
    let port: Int
}

/// The benchmark's bookkeeping: what was submitted when, what was committed, latencies.
actor LoadRun {
    let clients: [NodeClient]
    private var submittedAt: [String: ContinuousClock.Instant] = [:]
    private var sender: [String: ObjectIdentifier] = [:]
    private var outstanding: [ObjectIdentifier: Int] = [:]
    private var refused: [String: Int] = [:]
    private var rejected: [String: Int] = [:]
    private var committedInWindow = 0
    /// Commits seen after the first tenth of the window (the pipeline filling) and before its end.
    private var committedSteady = 0
    private var committedTotal = 0
    private var latencies = Histogram<UInt64>(highestTrackableValue: 600_000, numberOfSignificantValueDigits: .three)
    private var windowEnd: ContinuousClock.Instant?
    private var blocks = 0

    init(clients: [NodeClient]) { self.clients = clients }

    /// Transactions refused at submission, by the node's problem code.
    var refusedCodes: [String: Int] { refused }

    /// A node admits a sender's transactions up to `Limits.mempoolTransactionsPerSenderMax - 1`
    /// nonces past the last one it has seen committed. The count of waiting transactions is kept against validator 0's blocks; the
    /// node a sender talks to may be a block behind, with some of the sender's transactions in
    /// it, so the limit leaves room for that block.
    static let waitingPerSenderMax = 30

    /// Reserves room for up to `wanted` more waiting transactions of each sender, in order, and
    /// at most `total` in all; returns how many each sender got.
    func reserve(_ wanted: [(sender: ObjectIdentifier, count: Int)], total: Int) -> [Int] {
        var left = total
        return wanted.map { sender, count in
            let room = LoadRun.waitingPerSenderMax - outstanding[sender, default: 0]
            let granted = max(0, min(count, room, left))
            outstanding[sender, default: 0] += granted
            left -= granted
            return granted
        }
    }

    /// Submits what `queue` yields to the node at `endpoint`, one transaction at a time over one
    /// connection, and over a new one once the node closes it.
    nonisolated func submitAll(_ queue: AsyncStream<Planned>, to endpoint: NodeEndpoint) async {
        var queued = queue.makeAsyncIterator()
        var next = await queued.next()
        while let current = next {
            do {
                try await LoadConnection.with(host: endpoint.host, port: endpoint.port) { connection in
                    while let planned = next, connection.isReusable {
                        try await submit(planned, through: &connection)
                        next = await queued.next()
                    }
                }
            } catch {
                // The connection failed with the transaction in `next` in flight: it counts as refused.
                await noteRefused(next ?? current, code: "connection failed (\(error))")
                next = await queued.next()
            }
        }
    }

    /// Submits one transaction; a node whose mempool is full is asked again after a pause.
    /// - Throws: only when the connection fails.
    private nonisolated func submit(_ planned: Planned, through connection: inout LoadConnection) async throws {
        await noteSubmitted(planned)
        while true {
            let (status, body) = try await connection.post("/v1/transactions", json: planned.body)
            if (200..<300).contains(status) { return }
            let problem = try? JSONDecoder().decode(NodeClient.ProblemReply.self, from: Data(body.readableBytesView))
            if problem?.code == "mempool.full" {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            await noteRefused(planned, code: problem?.code ?? "HTTP \(status)")
            return
        }
    }

    private func noteSubmitted(_ planned: Planned) {
        submittedAt[planned.id] = .now
        sender[planned.id] = ObjectIdentifier(planned.wallet)
    }

    private func noteRefused(_ planned: Planned, code: String) {
        submittedAt[planned.id] = nil
        sender[planned.id] = nil
        outstanding[ObjectIdentifier(planned.wallet), default: 1] -= 1
        refused[code, default: 0] += 1
    }

    /// Follows validator 0's new blocks until 15 s after the window, or until nothing is outstanding.
    func watch(from height: UInt64, started: ContinuousClock.Instant, window length: Duration) async throws {
        var next = height
        let window = started + length
        let deadline = window + .seconds(15)
        let steadyFrom = started + length / 10
        while ContinuousClock.now < deadline {
            let tip = try await clients[0].get("/v1/status", as: NodeClient.StatusReply.self)?.height ?? 0
            while next <= tip {
                guard let block = try await clients[0].get("/v1/blocks/\(next)", as: NodeClient.BlockReply.self) else { break }
                let now = ContinuousClock.now
                blocks += 1
                for entry in block.transactions {
                    guard let at = submittedAt.removeValue(forKey: entry.id) else { continue }
                    if let owner = sender.removeValue(forKey: entry.id) { outstanding[owner, default: 1] -= 1 }
                    if entry.status == "committed" {
                        committedTotal += 1
                        if now <= window { committedInWindow += 1 }
                        if now > steadyFrom, now <= window { committedSteady += 1 }
                        let elapsed = at.duration(to: now).components
                        _ = latencies.record(UInt64(elapsed.seconds * 1_000 + elapsed.attoseconds / 1_000_000_000_000_000))
                    } else {
                        rejected[entry.rejectionCode ?? "unknown", default: 0] += 1
                    }
                }
                next += 1
            }
            if ContinuousClock.now > window, submittedAt.isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func report(offered: Int, window: Duration, clients: [NodeClient]) async {
        let seconds = Double(window.components.seconds)
        print("")
        print("offered \(offered) transactions in \(Int(seconds)) s (\(Int(Double(offered) / seconds))/s) over \(blocks) blocks")
        print("committed: \(committedTotal), \(committedInWindow) of them within the window (\(Int(Double(committedInWindow) / seconds))/s, filling included)")
        print("sustained: \(String(format: "%.0f", Double(committedSteady) / (seconds * 0.9))) transactions/s committed from \(String(format: "%.0f", seconds / 10)) s to \(Int(seconds)) s")
        if !refused.isEmpty { print("refused at submission: \(refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))") }
        if !rejected.isEmpty { print("rejected in blocks: \(rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))") }
        if !submittedAt.isEmpty { print("not committed by the end: \(submittedAt.count)") }
        if latencies.totalCount > 0 {
            print("finality latency ms: p50 \(latencies.valueAtPercentile(50)) p90 \(latencies.valueAtPercentile(90)) p99 \(latencies.valueAtPercentile(99)) max \(latencies.max)")
        }
        for (index, client) in clients.enumerated() {
            let status = try? await client.get("/v1/status", as: NodeClient.StatusReply.self)
            let memory = status?.node.peakMemoryBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "unknown"
            print("validator \(index): height \(status?.height ?? 0), peak memory \(memory)")
        }
    }
}
