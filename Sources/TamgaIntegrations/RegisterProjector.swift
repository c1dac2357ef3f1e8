import Foundation
public import Logging
public import PostgresNIO
public import ServiceLifecycle
public import TamgaConsensus
public import TamgaCore
public import TamgaLedger
public import TamgaNode
public import TamgaStorage

/// Where the projector reads decided blocks from: a running node, or a node's database.
public protocol BlockSource: Sendable {
    func blocks(from height: UInt64, limit: Int) async throws -> [Block]
}

extension Node: BlockSource {
    public func blocks(from height: UInt64, limit: Int) async throws -> [Block] {
        try blocks(from: Height(height), limit: limit).map(\.block)
    }
}

extension NodeStore: BlockSource {
    public func blocks(from height: UInt64, limit: Int) async throws -> [Block] {
        try blocks(from: Height(height), limit: limit).map(\.block)
    }
}

public enum RegisterError: CodedError, Equatable {
    case badURL(String)
    case otherChain(expected: String, found: String)
    /// A block did not lead to the state its successor's header names: the source is not the chain.
    case stateMismatch(height: UInt64)
    /// Another projector wrote to the same database meanwhile.
    case checkpointMoved(expected: UInt64, found: UInt64)
    /// The source's blocks start later than the register needs (a node that joined by state sync).
    case blocksMissing(from: UInt64, firstHeld: UInt64)

    public var code: String {
        switch self {
        case .badURL: "register.bad_url"
        case .otherChain: "register.other_chain"
        case .stateMismatch: "register.state_mismatch"
        case .checkpointMoved: "register.checkpoint_moved"
        case .blocksMissing: "register.blocks_missing"
        }
    }

    public var message: String {
        switch self {
        case let .badURL(reason): "not a PostgreSQL URL (postgres://user[:password]@host[:port]/database): \(reason)"
        case let .otherChain(expected, found): "the database holds the register of chain \(found), not \(expected)"
        case let .stateMismatch(height): "block \(height) does not lead to the state root its successor names"
        case let .checkpointMoved(expected, found): "the register's checkpoint is at \(found), not \(expected): another projector writes to this database"
        case let .blocksMissing(from, firstHeld):
            "the register executes every block from genesis and needs block \(from), but this node holds blocks from \(firstHeld) on "
                + "(it joined by state sync): run the register from a node that holds the whole chain"
        }
    }
}

/// The "Real Estate Register": the chain's state and history in PostgreSQL, in tables named
/// after ISO 19152 (LADM). The projector executes every block itself from genesis on the same
/// ledger code as the nodes, checks each state root against the next header, and writes what a
/// block changed together with the checkpoint in one SQL transaction: each block is applied
/// exactly once, a restart resumes after the checkpoint (replaying earlier blocks in memory
/// only), and dropping the tables rebuilds the register from genesis. The schema and the
/// questions it answers are in docs/integrations.md.
public actor RegisterProjector {
    let client: PostgresClient
    let genesis: GenesisFile
    let logger: Logger
    private let ledger: Ledger<DirectVerifier>
    private let map = AuthenticatedMap(store: InMemoryTreeNodeStore())
    private let treeStore: InMemoryTreeNodeStore
    /// The state version after the last executed block (`height + 1`).
    private var version: UInt64 = 1
    private var height: UInt64 = 0
    private var checkpoint: UInt64 = 0
    private var prepared = false

    public private(set) var rowsWritten = 0

    public init(client: PostgresClient, genesis: GenesisFile, logger: Logger) throws {
        self.client = client
        self.genesis = genesis
        self.logger = logger
        ledger = Ledger(chainID: genesis.chainID, verifier: DirectVerifier())
        treeStore = map.store
        try map.apply(genesis.ledgerGenesis.stateUpdates(), as: 1)
    }

    /// Parses `postgres://user[:password]@host[:port]/database`.
    public static func configuration(url text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? "") else { throw RegisterError.badURL("the scheme is postgres") }
        guard let user = url.user, !user.isEmpty else { throw RegisterError.badURL("no user") }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty else { throw RegisterError.badURL("no database") }
        var configuration = PostgresClient.Configuration(host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: user,
                                                         password: url.password, database: database, tls: .disable)
        configuration.options.maximumConnections = 2
        return configuration
    }

    /// Projects every decided block the source has; returns how many it wrote (blocks at or
    /// below the checkpoint are executed again in memory, not written).
    @discardableResult
    public func catchUp(from source: some BlockSource, batch: Int = 64) async throws -> Int {
        try await prepare()
        var written = 0
        while true {
            let blocks = try await source.blocks(from: height + 1, limit: batch)
            if blocks.isEmpty { return written }
            guard blocks[0].header.height.rawValue == height + 1 else {
                throw RegisterError.blocksMissing(from: height + 1, firstHeld: blocks[0].header.height.rawValue)
            }
            for block in blocks where try await apply(block) { written += 1 }
        }
    }

    public var projectedHeight: UInt64 { checkpoint }

    func prepare() async throws {
        guard !prepared else { return }
        try await client.withConnection { connection in
            for statement in RegisterSchema.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
        let rows = try await client.query("SELECT chain_id, height FROM tamga_checkpoint WHERE id = 1", logger: logger)
        for try await (chain, stored) in rows.decode((String, Int64).self) {
            guard chain == genesis.chainID.rawValue else { throw RegisterError.otherChain(expected: genesis.chainID.rawValue, found: chain) }
            checkpoint = UInt64(stored)
        }
        prepared = true
        if checkpoint > 0 { logger.info("register resumes", metadata: ["checkpoint": "\(checkpoint)"]) }
    }

    /// Executes one block; writes it unless it is at or below the checkpoint. Returns whether it wrote.
    func apply(_ block: Block) async throws -> Bool {
        let blockHeight = block.header.height.rawValue
        guard blockHeight == height + 1 else { return false }
        guard try map.rootHash(at: version) == block.header.stateRoot else { throw RegisterError.stateMismatch(height: height) }
        let outcome = try ledger.execute(block.transactions, blockTime: block.header.time, state: MapSnapshot(map: map, version: version))
        try map.apply(outcome.updates, as: version + 1)
        version += 1
        height = blockHeight
        if version > 3 { treeStore.prune(keepingFrom: version - 1) }
        guard blockHeight > checkpoint else { return false }
        let queries = LedgerQueries(state: MapSnapshot(map: map, version: version))
        // Block 1's write also carries the genesis state (its parties and their opening balances).
        let updates = blockHeight == 1 ? genesis.ledgerGenesis.stateUpdates() + outcome.updates : outcome.updates
        let rows = try RegisterRows(block: block, receipts: outcome.receipts, updates: updates, queries: queries)
        let expected = checkpoint
        try await client.withTransaction(logger: logger) { connection in
            // Two projectors on one database: the second waits here, then finds the checkpoint moved.
            var found: Int64 = 0
            for try await stored in try await connection.query("SELECT height FROM tamga_checkpoint WHERE id = 1 FOR UPDATE", logger: logger).decode(Int64.self) {
                found = stored
            }
            guard found == Int64(expected) else { throw RegisterError.checkpointMoved(expected: expected, found: UInt64(max(0, found))) }
            for statement in rows.statements { try await connection.query(statement, logger: logger) }
            try await connection.query("""
                INSERT INTO tamga_checkpoint (id, chain_id, height, block_hash, updated_at) VALUES (1, \(genesis.chainID.rawValue), \(Int64(blockHeight)), \(block.hash.hex), now())
                ON CONFLICT (id) DO UPDATE SET height = EXCLUDED.height, block_hash = EXCLUDED.block_hash, updated_at = now()
                """, logger: logger)
        }
        checkpoint = blockHeight
        rowsWritten += rows.rowCount
        return true
    }
}

/// The projector inside a node: follows the node's decided blocks until shutdown.
public struct RegisterService: Service {
    let node: Node
    let client: PostgresClient
    let projector: RegisterProjector
    let logger: Logger

    public init(node: Node, url: String, logger: Logger) throws {
        self.node = node
        self.logger = logger
        client = PostgresClient(configuration: try RegisterProjector.configuration(url: url), backgroundLogger: logger)
        projector = try RegisterProjector(client: client, genesis: node.genesis, logger: logger)
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            group.addTask {
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    do {
                        try await projector.catchUp(from: node)
                    } catch is CancellationError {
                        return
                    } catch let error as RegisterError {
                        // The register is a copy for others to read: the node goes on validating
                        // and serving without it, and the operator is told why it stopped.
                        logger.critical("the register stopped; the node goes on without it", metadata: ["error": "\(error.message)"])
                        try? await gracefulShutdown()
                        return
                    } catch {
                        logger.error("the register could not write; trying again", metadata: ["error": "\(String(reflecting: error))"])
                        try? await Task.sleep(for: .seconds(5))
                    }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
