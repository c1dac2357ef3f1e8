import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import TamgaIntegrations
import TamgaNode
import TamgaStorage

/// `tamga register`: projects a node's chain into the PostgreSQL "Real Estate Register".
struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Project a node's chain into the PostgreSQL Real Estate Register (docs/integrations.md).",
        discussion: """
            Reads the decided blocks from the node's database (the node may be running), executes each one, checks it \
            against the next header's state root, and writes what it changed with the checkpoint in one SQL transaction. \
            Run again, it resumes after the checkpoint; on an empty database, it builds the register from genesis.
            """
    )

    @Option(help: "postgres://user[:password]@host[:port]/database")
    var postgres: String

    @Option(help: "The node's folder, on this machine.")
    var home: String

    @Flag(help: "Keep following the chain until SIGINT, instead of stopping at its end.")
    var follow = false

    func run() async throws {
        let nodeHome = NodeHome(URL(fileURLWithPath: home))
        let genesis = try nodeHome.loadGenesis()
        let store = try NodeStore(path: nodeHome.databaseURL.path)
        let logger = Logger(label: "tamga.register")
        let client = PostgresClient(configuration: try RegisterProjector.configuration(url: postgres), backgroundLogger: logger)
        let projector = try RegisterProjector(client: client, genesis: genesis, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let started = ContinuousClock.now
            let blocks = try await projector.catchUp(from: store)
            let elapsed = started.duration(to: .now).components
            let seconds = max(0.001, Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
            let rows = await projector.rowsWritten
            print("projected \(blocks) blocks (\(rows) rows) to height \(await projector.projectedHeight) in \(String(format: "%.1f", seconds)) s: "
                  + "\(Int(Double(blocks) / seconds)) blocks/s, \(Int(Double(rows) / seconds)) rows/s")
            while follow, !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(500))
                let more = try await projector.catchUp(from: store)
                if more > 0 { print("projected \(more) more blocks to height \(await projector.projectedHeight)") }
            }
            group.cancelAll()
        }
    }
}
