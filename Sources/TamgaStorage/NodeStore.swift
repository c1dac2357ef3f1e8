public import Foundation
import GRDB
public import TamgaConsensus
public import TamgaCore
public import TamgaLedger

/// Why the node's database cannot be used.
public enum StorageError: CodedError, Equatable {
    /// The database belongs to another chain or genesis.
    case wrongChain(expected: String, found: String)
    /// A stored row does not decode: the file was damaged or edited.
    case corruptRow(table: String, reason: String)
    /// The stored blocks and state do not agree with each other: the file was edited.
    case integrity(String)

    public var code: String {
        switch self {
        case .wrongChain: "storage.wrong_chain"
        case .corruptRow: "storage.corrupt_row"
        case .integrity: "storage.integrity"
        }
    }

    public var message: String {
        switch self {
        case let .wrongChain(expected, found): "the database belongs to genesis \(found), not \(expected)"
        case let .corruptRow(table, reason): "a row of table \(table) does not decode (\(reason)): the database was damaged or edited"
        case let .integrity(reason): "the database is inconsistent: \(reason); refusing to serve it"
        }
    }
}

/// A decided block as stored: the block, the commit that finalized it, and its receipts.
public struct CommittedBlock: Sendable {
    public let block: Block
    public let commit: Commit
    public let receipts: [Receipt]

    /// The source documents the block's committed transactions cite.
    public let citations: [DocumentCitation]

    /// A validator set the block decided: it governs from two heights on.
    public let decidedValidators: ValidatorSet?
    /// The proof of a set decided by the block before, which this block's header and commit complete.
    public let handover: ValidatorHandover?

    public init(block: Block, commit: Commit, receipts: [Receipt], citations: [DocumentCitation] = [],
                decidedValidators: ValidatorSet? = nil, handover: ValidatorHandover? = nil) {
        self.block = block
        self.commit = commit
        self.receipts = receipts
        self.citations = citations
        self.decidedValidators = decidedValidators
        self.handover = handover
    }

    public var height: Height { block.header.height }
}

/// A position in the event index: block height, transaction position, event index.
public struct EventCursor: Hashable, Sendable {
    public let height: UInt64
    public let position: Int
    public let seq: Int

    public init(height: UInt64, position: Int, seq: Int) {
        self.height = height
        self.position = position
        self.seq = seq
    }

    /// `height.position.seq`, as the API's cursors are written.
    public var text: String { "\(height).\(position).\(seq)" }

    public init?(text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 3, let height = UInt64(parts[0]), let position = Int(parts[1]), let seq = Int(parts[2]), position >= 0, seq >= 0 else { return nil }
        self.init(height: height, position: position, seq: seq)
    }
}

/// An event with where it is in the chain.
public struct StoredEvent: Sendable {
    public let cursor: EventCursor
    public let transaction: TransactionID
    public let event: LedgerEvent
}

/// A committed transaction's citation of a source document (by its SHA-256), with the record it
/// belongs to (`property/<number>` or `deed/<id>`) and the party that signed the transaction.
public struct DocumentCitation: Hashable, Sendable {
    public let document: Hash
    public let record: String
    public let transaction: TransactionID
    public let signer: String

    public init(document: Hash, record: String, transaction: TransactionID, signer: String) {
        self.document = document
        self.record = record
        self.transaction = transaction
        self.signer = signer
    }
}

/// A source document as kept off chain: the bytes whose SHA-256 is its name.
public struct StoredDocument: Sendable, Equatable {
    public let hash: Hash
    public let mediaType: String
    public let content: [UInt8]
    /// The party that uploaded it to this node; nil when it came from a peer.
    public let uploadedBy: String?

    public init(hash: Hash, mediaType: String, content: [UInt8], uploadedBy: String?) {
        self.hash = hash
        self.mediaType = mediaType
        self.content = content
        self.uploadedBy = uploadedBy
    }
}

/// A read of a passport by someone other than its owners.
public struct PassportRead: Sendable, Equatable {
    public let cadastralNumber: String
    /// The reading party's id, or "access code" when the code was used.
    public let reader: String
    public let at: Timestamp
}

/// Where a committed transaction is, and what became of it.
public struct StoredReceipt: Sendable, Equatable {
    public let height: Height
    public let position: Int
    public let receipt: Receipt

    public init(height: Height, position: Int, receipt: Receipt) {
        self.height = height
        self.position = position
        self.receipt = receipt
    }
}

/// One node's SQLite database: blocks and their commits, the receipts, the events' index, the
/// authenticated map's nodes of the retained versions, and the consensus write-ahead log.
///
/// The database runs in WAL mode with `synchronous = FULL`: when a write returns, it survives a
/// crash or power loss. A block, its receipts, its events and the state version it produced are
/// written in one transaction, so the database never holds a block without its state or the
/// other way round.
public final class NodeStore: Sendable {
    let database: DatabasePool

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // A 64 MiB page cache keeps the index pages that every block's inserts walk; the WAL is
            // folded into the database every 10,000 pages (about 40 MiB) rather than every 1,000.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 10000")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                CREATE TABLE blocks (
                    height INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, time INTEGER NOT NULL,
                    block BLOB NOT NULL, "commit" BLOB NOT NULL);
                CREATE TABLE transactions (
                    id BLOB PRIMARY KEY, height INTEGER NOT NULL, position INTEGER NOT NULL, receipt BLOB NOT NULL);
                CREATE UNIQUE INDEX transactions_position ON transactions (height, position);
                CREATE TABLE event_subjects (
                    subject TEXT NOT NULL, height INTEGER NOT NULL, position INTEGER NOT NULL, seq INTEGER NOT NULL,
                    PRIMARY KEY (subject, height, position, seq)) WITHOUT ROWID;
                CREATE TABLE tree_nodes (
                    version INTEGER NOT NULL, depth INTEGER NOT NULL, bits BLOB NOT NULL, node BLOB NOT NULL,
                    PRIMARY KEY (version, depth, bits)) WITHOUT ROWID;
                CREATE TABLE tree_roots (version INTEGER PRIMARY KEY, root BLOB);
                CREATE TABLE tree_stale (since INTEGER NOT NULL, version INTEGER NOT NULL, depth INTEGER NOT NULL, bits BLOB NOT NULL);
                CREATE INDEX tree_stale_since ON tree_stale (since);
                CREATE TABLE consensus_wal (seq INTEGER PRIMARY KEY AUTOINCREMENT, height INTEGER NOT NULL, record BLOB NOT NULL);
                CREATE TABLE consensus_blocks (hash BLOB PRIMARY KEY, height INTEGER NOT NULL, block BLOB NOT NULL);
                """)
        }
        migrator.registerMigration("v2: passport reads") { db in
            try db.execute(sql: """
                CREATE TABLE passport_reads (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, cadastral_number TEXT NOT NULL,
                    reader TEXT NOT NULL, at INTEGER NOT NULL);
                CREATE INDEX passport_reads_owner ON passport_reads (owner, seq);
                """)
        }
        migrator.registerMigration("v3: listed properties") { db in
            try db.execute(sql: "CREATE TABLE listed_properties (cadastral_number TEXT PRIMARY KEY) WITHOUT ROWID")
        }
        migrator.registerMigration("v4: issued extracts") { db in
            try db.execute(sql: """
                CREATE TABLE issued_extracts (code BLOB PRIMARY KEY, cadastral_number TEXT NOT NULL, height INTEGER NOT NULL,
                    extract BLOB NOT NULL) WITHOUT ROWID
                """)
        }
        migrator.registerMigration("v5: source documents") { db in
            try db.execute(sql: """
                CREATE TABLE documents (hash BLOB PRIMARY KEY, media_type TEXT NOT NULL, content BLOB NOT NULL,
                    uploaded_by TEXT, stored_at INTEGER NOT NULL);
                CREATE TABLE document_citations (document BLOB NOT NULL, record TEXT NOT NULL, tx BLOB NOT NULL,
                    signer TEXT NOT NULL, height INTEGER NOT NULL, PRIMARY KEY (document, tx, record)) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v6: pledges under review") { db in
            try db.execute(sql: """
                CREATE TABLE pledge_candidates (height INTEGER NOT NULL, position INTEGER NOT NULL, id BLOB NOT NULL,
                    PRIMARY KEY (height, position)) WITHOUT ROWID
                """)
            // Every proposal already stored is a candidate; reading the list drops the decided ones.
            let receipts = try Row.fetchCursor(db, sql: "SELECT height, position, receipt FROM transactions")
            while let row = try receipts.next() {
                let receipt = try decodeRow(Receipt.self, row["receipt"], table: "transactions")
                guard receipt.events.contains(where: { $0.kind == "pledge.proposed" }) else { continue }
                try db.execute(sql: "INSERT INTO pledge_candidates (height, position, id) VALUES (?, ?, ?)",
                               arguments: [row["height"] as Int64, row["position"] as Int64, Data(receipt.transaction.hash.bytes)])
            }
        }
        migrator.registerMigration("v7: validator sets") { db in
            try db.execute(sql: "CREATE TABLE validator_sets (from_height INTEGER PRIMARY KEY, validators BLOB NOT NULL, handover BLOB)")
        }
        migrator.registerMigration("v8: open deeds found by state sync") { db in
            try db.execute(sql: "CREATE TABLE synced_deeds (party TEXT NOT NULL, deed BLOB NOT NULL, PRIMARY KEY (party, deed)) WITHOUT ROWID")
        }
        return migrator
    }

    // MARK: Identity

    /// Binds the database to a genesis on first use; afterwards refuses any other.
    public func bind(toGenesis genesisHash: Hash) throws {
        try database.write { db in
            if let stored = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'genesis'") {
                let found = Hash(bytes: [UInt8](stored))?.hex ?? "unreadable"
                guard found == genesisHash.hex else { throw StorageError.wrongChain(expected: genesisHash.hex, found: found) }
            } else {
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('genesis', ?)", arguments: [Data(genesisHash.bytes)])
            }
        }
    }

    // MARK: Blocks

    /// Writes a decided block, its receipts and events, the state versions it produced and any
    /// pruning, in one durable transaction. Nothing is reported committed before this returns.
    /// - Returns: how many pruned versions still have stale nodes to delete (0: pruning keeps up).
    @discardableResult
    public func commit(_ committed: CommittedBlock, tree: [TreeWriteBatch], pruneBefore: UInt64?) throws -> UInt64 {
        let block = committed.block
        return try database.write { db in
            try db.execute(
                sql: #"INSERT INTO blocks (height, hash, time, block, "commit") VALUES (?, ?, ?, ?, ?)"#,
                arguments: [Int64(block.header.height.rawValue), Data(block.hash.bytes), Int64(block.header.time.rawValue),
                            Data(block.encoded()), Data(committed.commit.encoded())])
            let height = Int64(block.header.height.rawValue)
            let insertTransaction = try db.cachedStatement(sql: "INSERT OR IGNORE INTO transactions (id, height, position, receipt) VALUES (?, ?, ?, ?)")
            let insertSubject = try db.cachedStatement(sql: "INSERT INTO event_subjects (subject, height, position, seq) VALUES (?, ?, ?, ?)")
            let insertListed = try db.cachedStatement(sql: "INSERT OR IGNORE INTO listed_properties (cadastral_number) VALUES (?)")
            let insertPledge = try db.cachedStatement(sql: "INSERT OR IGNORE INTO pledge_candidates (height, position, id) VALUES (?, ?, ?)")
            for (position, receipt) in committed.receipts.enumerated() {
                try insertTransaction.execute(arguments: [Data(receipt.transaction.hash.bytes), height, position, Data(receipt.encoded())])
                for (seq, event) in receipt.events.enumerated() {
                    if event.kind == "sale.listed" {
                        for number in event.properties { try insertListed.execute(arguments: [number.rawValue]) }
                    }
                    // A proposal's id is its pledge's.
                    if event.kind == "pledge.proposed" { try insertPledge.execute(arguments: [height, position, Data(receipt.transaction.hash.bytes)]) }
                    for subject in event.parties.map({ "party/\($0)" }) + event.properties.map({ "property/\($0)" }) {
                        try insertSubject.execute(arguments: [subject, height, position, seq])
                    }
                }
            }
            let insertCitation = try db.cachedStatement(sql: "INSERT OR IGNORE INTO document_citations (document, record, tx, signer, height) VALUES (?, ?, ?, ?, ?)")
            for citation in committed.citations {
                try insertCitation.execute(arguments: [Data(citation.document.bytes), citation.record, Data(citation.transaction.hash.bytes), citation.signer, height])
            }
            if let validators = committed.decidedValidators {
                try db.execute(sql: "INSERT OR REPLACE INTO validator_sets (from_height, validators, handover) VALUES (?, ?, NULL)",
                               arguments: [height + Int64(ValidatorSchedule.activationDelay), Data(validators.encoded())])
            }
            if let handover = committed.handover {
                try db.execute(sql: "UPDATE validator_sets SET handover = ? WHERE from_height = ?", arguments: [try Self.encodeHandover(handover), height + 1])
            }
            for batch in tree { try Self.write(batch, db) }
            let backlog = try Self.prune(withBlockBefore: pruneBefore, madeStale: tree.reduce(0) { $0 + $1.staleNodes.count }, db)
            // The log keeps only what a restart at the next height needs: the last record.
            try db.execute(sql: "DELETE FROM consensus_wal WHERE height <= ? AND seq < (SELECT MAX(seq) FROM consensus_wal)", arguments: [height])
            try db.execute(sql: "DELETE FROM consensus_blocks WHERE height <= ?", arguments: [height])
            return backlog
        }
    }

    /// A height asked about as SQLite stores it, or nil when it is beyond SQLite's integers (and so
    /// beyond every stored block): a height from a request must not trap the node.
    private static func storedHeight(_ height: UInt64) -> Int64? {
        Int64(exactly: height)
    }

    /// The highest stored block's height (zero before the first).
    public func lastHeight() throws -> Height {
        Height(UInt64(try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(height) FROM blocks") } ?? 0))
    }

    /// Folds the write-ahead log into the database file, so that the file alone is the whole
    /// database (for copying it while no node has it open).
    public func checkpoint() throws {
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// The hash of the block stored at `height`, without reading the block.
    public func blockHash(at height: Height) throws -> Hash? {
        guard let stored = Self.storedHeight(height.rawValue) else { return nil }
        return try database.read { db in try Data.fetchOne(db, sql: "SELECT hash FROM blocks WHERE height = ?", arguments: [stored]) }
            .map { bytes in
                guard let hash = Hash(bytes: [UInt8](bytes)) else { throw StorageError.corruptRow(table: "blocks", reason: "a block hash of \(bytes.count) bytes") }
                return hash
            }
    }

    /// The header of the block stored at `height`, read without the rest of the block.
    public func blockHeader(at height: Height) throws -> BlockHeader? {
        guard let stored = Self.storedHeight(height.rawValue) else { return nil }
        // A header takes a few hundred bytes at the front of the block's encoding.
        guard let prefix = try database.read({ db in
            try Data.fetchOne(db, sql: "SELECT substr(block, 1, 4096) FROM blocks WHERE height = ?", arguments: [stored])
        }) else { return nil }
        var reader = ByteReader([UInt8](prefix))
        do {
            return try BlockHeader(from: &reader)
        } catch {
            throw StorageError.corruptRow(table: "blocks", reason: error.message)
        }
    }

    /// The block at `height` with the commit that finalized it.
    public func block(at height: Height) throws -> (block: Block, commit: Commit)? {
        try blocks(from: height, limit: 1).first
    }

    /// Up to `limit` consecutive blocks from `height` on, each with its commit.
    public func blocks(from height: Height, limit: Int) throws -> [(block: Block, commit: Commit)] {
        guard let from = Self.storedHeight(height.rawValue) else { return [] }
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: #"SELECT block, "commit" FROM blocks WHERE height >= ? ORDER BY height LIMIT ?"#,
                             arguments: [from, limit])
        }
        return try rows.map { row in
            (try decodeRow(Block.self, row["block"], table: "blocks"), try decodeRow(Commit.self, row["commit"], table: "blocks"))
        }
    }

    /// Where a transaction was committed and its receipt, if it was.
    /// Asked for every submitted transaction, so it reads with one cached statement outside a
    /// read transaction (a single SELECT sees one committed state).
    public func receipt(for id: TransactionID) throws -> StoredReceipt? {
        guard let row = try database.unsafeRead({ db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT height, position, receipt FROM transactions WHERE id = ?"), arguments: [Data(id.hash.bytes)])
        }) else { return nil }
        let receipt = try decodeRow(Receipt.self, row["receipt"], table: "transactions")
        return StoredReceipt(height: Height(UInt64(row["height"] as Int64)), position: Int(row["position"] as Int64), receipt: receipt)
    }

    /// The receipts of the block at `height`, in transaction order.
    public func receipts(at height: Height) throws -> [Receipt] {
        guard let stored = Self.storedHeight(height.rawValue) else { return [] }
        return try database.read { db in
            try Data.fetchAll(db, sql: "SELECT receipt FROM transactions WHERE height = ? ORDER BY position", arguments: [stored])
        }.map { try decodeRow(Receipt.self, $0, table: "transactions") }
    }

    // MARK: Consensus write-ahead log

    /// Appends a signing record (and, for a proposal, the block it names) durably. Consensus
    /// sends the signed message only after this returns.
    public func appendSigningRecord(_ record: SigningRecord, proposedBlock: Block?) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO consensus_wal (height, record) VALUES (?, ?)",
                           arguments: [Int64(record.height.rawValue), Data(record.encoded())])
            if let proposedBlock {
                try db.execute(sql: "INSERT OR IGNORE INTO consensus_blocks (hash, height, block) VALUES (?, ?, ?)",
                               arguments: [Data(proposedBlock.hash.bytes), Int64(proposedBlock.header.height.rawValue), Data(proposedBlock.encoded())])
            }
        }
    }

    /// The signing records kept for a restart, oldest first.
    public func signingRecords() throws -> [SigningRecord] {
        try database.read { db in try Data.fetchAll(db, sql: "SELECT record FROM consensus_wal ORDER BY seq") }.map { try decodeRow(SigningRecord.self, $0, table: "consensus_wal") }
    }

    /// The blocks this validator proposed at heights not yet decided, to offer again after a restart.
    public func proposedBlocks() throws -> [Block] {
        try database.read { db in try Data.fetchAll(db, sql: "SELECT block FROM consensus_blocks") }.map { try decodeRow(Block.self, $0, table: "consensus_blocks") }
    }

    // MARK: State tree

    /// Writes state versions made outside a block: the genesis state, before any block.
    public func saveState(_ batches: [TreeWriteBatch]) throws {
        try database.write { db in for batch in batches { try Self.write(batch, db) } }
    }

    // MARK: State sync

    /// Writes nodes of a state version fetched from peers (each checked against a signed root
    /// before it comes here); the version is readable once `finishSnapshot` names its root.
    public func writeSnapshotNodes(_ nodes: [(key: NodeKey, node: TreeNode)]) throws {
        try database.write { db in
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO tree_nodes (version, depth, bits, node) VALUES (?, ?, ?, ?)")
            for (key, node) in nodes {
                try insert.execute(arguments: [Int64(key.version), Int64(key.path.depth), Data(key.path.bits.bytes), Data(node.encoded())])
            }
        }
    }

    /// Forgets what a state sync that did not finish wrote (a crash part way, or a sync started
    /// again from a newer block): with no block stored, every state row is one, and so is every
    /// entry of the indexes it built from the fetched records.
    public func discardUnfinishedSnapshot() throws {
        try database.write { db in
            guard try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM blocks") == 0 else { return }
            try db.execute(sql: """
                DELETE FROM tree_nodes; DELETE FROM tree_roots; DELETE FROM tree_stale; DELETE FROM validator_sets;
                DELETE FROM meta WHERE key = 'base_height';
                DELETE FROM listed_properties; DELETE FROM pledge_candidates; DELETE FROM synced_deeds
                """)
        }
    }

    /// Completes a state fetched from peers: its root, and the height of the block this node's
    /// chain starts at (it holds no block below it).
    public func finishSnapshot(version: UInt64, root: ChildReference?, baseHeight: Height) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO tree_roots (version, root) VALUES (?, ?)", arguments: [Int64(version), root.map { Data($0.encoded()) }])
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('base_height', ?)", arguments: [Data(String(baseHeight.rawValue).utf8)])
        }
    }

    // MARK: Validator sets

    /// A validator set that replaced the one before, from a height on, and the proof of it once
    /// the block after the deciding one completes it.
    public struct ScheduledValidators: Sendable {
        public let from: Height
        public let validators: ValidatorSet
        public let handover: ValidatorHandover?

        public init(from: Height, validators: ValidatorSet, handover: ValidatorHandover?) {
            self.from = from
            self.validators = validators
            self.handover = handover
        }
    }

    /// Every validator set decided since genesis (or learnt when joining by state sync), by height.
    public func validatorSets() throws -> [ScheduledValidators] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT from_height, validators, handover FROM validator_sets ORDER BY from_height").map { row in
                let validators = try decodeRow(ValidatorSet.self, row["validators"], table: "validator_sets")
                // A set decided by block 1 or later governs from height 3 on.
                guard let from = row["from_height"] as Int64?, from >= 1 + Int64(ValidatorSchedule.activationDelay) else {
                    throw StorageError.corruptRow(table: "validator_sets", reason: "a set from height \(String(describing: row["from_height"] as Int64?))")
                }
                let handover: ValidatorHandover? = try (row["handover"] as Data?).map { data in
                    do { return try JSONDecoder().decode(ValidatorHandover.self, from: data) } catch {
                        throw StorageError.corruptRow(table: "validator_sets", reason: "\(error)")
                    }
                }
                return ScheduledValidators(from: Height(UInt64(from)), validators: validators, handover: handover)
            }
        }
    }

    /// Keeps the sets a node joining by state sync verified from its peers' handovers.
    public func saveValidatorSets(_ sets: [ScheduledValidators]) throws {
        try database.write { db in
            for set in sets {
                try db.execute(sql: "INSERT OR REPLACE INTO validator_sets (from_height, validators, handover) VALUES (?, ?, ?)",
                               arguments: [Int64(set.from.rawValue), Data(set.validators.encoded()), try set.handover.map(Self.encodeHandover)])
            }
        }
    }

    private static func encodeHandover(_ handover: ValidatorHandover) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(handover)
    }

    /// The first block this node holds: 1, or the height it joined at by state sync.
    public func baseHeight() throws -> Height {
        guard let stored = try database.read({ db in try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'base_height'") }) else { return Height(1) }
        guard let height = UInt64(String(decoding: stored, as: UTF8.self)) else { throw StorageError.corruptRow(table: "meta", reason: "base_height") }
        return Height(height)
    }

    private static func write(_ batch: TreeWriteBatch, _ db: Database) throws {
        let version = Int64(batch.version)
        let insertNode = try db.cachedStatement(sql: "INSERT INTO tree_nodes (version, depth, bits, node) VALUES (?, ?, ?, ?)")
        for (key, node) in batch.nodes {
            try insertNode.execute(arguments: [version, Int64(key.path.depth), Data(key.path.bits.bytes), Data(node.encoded())])
        }
        try db.execute(sql: "INSERT INTO tree_roots (version, root) VALUES (?, ?)", arguments: [version, batch.root.map { Data($0.encoded()) }])
        let insertStale = try db.cachedStatement(sql: "INSERT INTO tree_stale (since, version, depth, bits) VALUES (?, ?, ?, ?)")
        for (key, _) in batch.staleNodes {
            try insertStale.execute(arguments: [version, Int64(key.version), Int64(key.path.depth), Data(key.path.bits.bytes)])
        }
    }

    /// How many nodes of pruned versions one block deletes: twice as many as its own versions
    /// left behind, and at least 10,000. The nodes of an old version lie scattered over the whole
    /// table, so deleting one costs a page written twice (about 12 µs on the development
    /// machine); a version that rewrote much of the tree (a block of 5,000 registrations leaves
    /// about 85,000 nodes behind) or a lowered `stateVersionsKept` (hundreds of versions at once)
    /// leaves a backlog that later blocks clear at this pace, rather than one block's commit
    /// carrying all of it. The backlog grows while versions that left more than this pace behind
    /// fall out of the window, and shrinks once blocks leave behind less than it.
    static func pruneLimit(madeStale: Int) -> Int { max(10_000, 2 * madeStale) }

    /// Makes the versions before `version` unreadable at once (their roots go), and deletes the
    /// nodes they alone held, oldest first, up to `limit`. Each is deleted by its full key, in
    /// key order: a row-value `IN` over `tree_stale` searched the table by version and depth
    /// only, and cost twice as much.
    /// - Returns: the versions before `version` whose stale nodes are not all deleted yet.
    @discardableResult
    static func prune(before version: UInt64, upTo limit: Int, _ db: Database) throws -> UInt64 {
        let keep = Int64(version)
        try db.execute(sql: "DELETE FROM tree_roots WHERE version < ?", arguments: [keep])
        // Through the index on `since`: only the rows due are read, however many later versions
        // have left stale nodes behind.
        let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT rowid, version, depth, bits FROM tree_stale WHERE since <= ? ORDER BY since, rowid LIMIT ?"),
                                    arguments: [keep, limit])
        var keys = rows.map { row -> (version: Int64, depth: Int64, bits: Data) in (row["version"], row["depth"], row["bits"]) }
        keys.sort { ($0.version, $0.depth) != ($1.version, $1.depth) ? ($0.version, $0.depth) < ($1.version, $1.depth) : $0.bits.lexicographicallyPrecedes($1.bits) }
        let delete = try db.cachedStatement(sql: "DELETE FROM tree_nodes WHERE version = ? AND depth = ? AND bits = ?")
        for key in keys { try delete.execute(arguments: [key.version, key.depth, key.bits]) }
        let forget = try db.cachedStatement(sql: "DELETE FROM tree_stale WHERE rowid = ?")
        for rowid in rows.map({ row -> Int64 in row["rowid"] }).sorted() { try forget.execute(arguments: [rowid]) }
        guard rows.count == limit, let oldest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(since) FROM tree_stale WHERE since <= ?"), arguments: [keep])
        else { return 0 }
        return UInt64(keep - oldest + 1)
    }

    /// What a block's commit prunes, its own versions written: the versions before `pruneBefore`,
    /// or with none given (an archive node, or a window made longer) still the backlog of nodes
    /// stale since the oldest stored version or before, which no stored version uses.
    static func prune(withBlockBefore pruneBefore: UInt64?, madeStale: Int, _ db: Database) throws -> UInt64 {
        guard let keep = try pruneBefore ?? Int64.fetchOne(db, sql: "SELECT MIN(version) FROM tree_roots").map(UInt64.init) else { return 0 }
        return try prune(before: keep, upTo: pruneLimit(madeStale: madeStale), db)
    }

    /// The root hash stored for `version`, if that version is retained.
    public func storedRoot(version: UInt64) throws -> Hash? {
        guard let row = try database.read({ db in
            try Row.fetchOne(db, sql: "SELECT root FROM tree_roots WHERE version = ?", arguments: [Int64(version)])
        }) else { return nil }
        let bytes: Data? = row["root"]
        return try bytes.map { try decodeRow(ChildReference.self, $0, table: "tree_roots").hash } ?? .zero
    }

    // MARK: History

    /// Events that name `subject` (`party/<id>` or `property/<number>`), oldest first, after the
    /// cursor, at most `limit`.
    public func events(about subject: String, after cursor: EventCursor?, limit: Int) throws -> [StoredEvent] {
        let start = cursor ?? EventCursor(height: 0, position: -1, seq: -1)
        guard let startHeight = Self.storedHeight(start.height) else { return [] }
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.height, s.position, s.seq, t.receipt FROM event_subjects s
                JOIN transactions t ON t.height = s.height AND t.position = s.position
                WHERE s.subject = ? AND (s.height, s.position, s.seq) > (?, ?, ?)
                ORDER BY s.height, s.position, s.seq LIMIT ?
                """, arguments: [subject, startHeight, start.position, start.seq, limit])
        }
        return try rows.map { row in
            let receipt = try decodeRow(Receipt.self, row["receipt"], table: "transactions")
            let seq = Int(row["seq"] as Int64)
            guard receipt.events.indices.contains(seq) else { throw StorageError.corruptRow(table: "event_subjects", reason: "no event \(seq)") }
            return StoredEvent(cursor: EventCursor(height: UInt64(row["height"] as Int64), position: Int(row["position"] as Int64), seq: seq),
                               transaction: receipt.transaction, event: receipt.events[seq])
        }
    }

    /// Properties that were ever listed for sale, in cadastral-number order after `after`: the
    /// candidates for the offers list (whether each is still listed is in the state).
    public func listedProperties(after: String?, limit: Int) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT cadastral_number FROM listed_properties WHERE cadastral_number > ? ORDER BY cadastral_number LIMIT ?",
                                arguments: [after ?? "", limit])
        }
    }

    /// Pledges proposed and not yet known to be decided, oldest first after `after` (a
    /// proposal's height and position): the candidates for a registrar's review list (whether
    /// each still waits is in the state).
    public func pledgeCandidates(after: (height: UInt64, position: Int)?, limit: Int) throws -> [(height: UInt64, position: Int, id: TransactionID)] {
        let (height, position) = after.map { (Self.storedHeight($0.height) ?? Int64.max, Int64($0.position)) } ?? (0, -1)
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT height, position, id FROM pledge_candidates WHERE (height, position) > (?, ?) ORDER BY height, position LIMIT ?",
                             arguments: [height, position, limit])
        }
        return try rows.map { row in
            guard let hash = Hash(bytes: [UInt8](row["id"] as Data)) else { throw StorageError.corruptRow(table: "pledge_candidates", reason: "not a transaction id") }
            return (UInt64(row["height"] as Int64), Int(row["position"] as Int64), TransactionID(hash: hash))
        }
    }

    /// Candidates a node that joined by state sync found in the fetched state, whose blocks it
    /// never held: properties listed, pledges waiting for review (placed before every block,
    /// height 0, in the order given), and open deeds by party.
    public func addSnapshotCandidates(listed: [String], pledges: [TransactionID], deeds: [(party: String, deed: TransactionID)]) throws {
        guard !listed.isEmpty || !pledges.isEmpty || !deeds.isEmpty else { return }
        try database.write { db in
            let insertListed = try db.cachedStatement(sql: "INSERT OR IGNORE INTO listed_properties (cadastral_number) VALUES (?)")
            for number in listed { try insertListed.execute(arguments: [number]) }
            let insertPledge = try db.cachedStatement(sql: "INSERT OR IGNORE INTO pledge_candidates (height, position, id) VALUES (0, ?, ?)")
            for (position, id) in pledges.enumerated() { try insertPledge.execute(arguments: [position, Data(id.hash.bytes)]) }
            let insertDeed = try db.cachedStatement(sql: "INSERT OR IGNORE INTO synced_deeds (party, deed) VALUES (?, ?)")
            for (party, deed) in deeds { try insertDeed.execute(arguments: [party, Data(deed.hash.bytes)]) }
        }
    }

    /// The deeds naming `party` that were open in the state this node joined by state sync at.
    public func syncedDeeds(of party: String) throws -> [TransactionID] {
        let rows = try database.read { db in
            try Data.fetchAll(db, sql: "SELECT deed FROM synced_deeds WHERE party = ? ORDER BY deed", arguments: [party])
        }
        return try rows.map { data in
            guard let hash = Hash(bytes: [UInt8](data)) else { throw StorageError.corruptRow(table: "synced_deeds", reason: "not a transaction id") }
            return TransactionID(hash: hash)
        }
    }

    /// Drops the candidates at these places (proposals whose pledges were decided).
    public func forgetPledgeCandidates(at places: [(height: UInt64, position: Int)]) throws {
        guard !places.isEmpty else { return }
        try database.write { db in
            for place in places {
                guard let height = Self.storedHeight(place.height) else { continue }
                try db.execute(sql: "DELETE FROM pledge_candidates WHERE height = ? AND position = ?", arguments: [height, place.position])
            }
        }
    }

    // MARK: Source documents

    /// Keeps a document; keeping one already kept changes nothing (its name is its content).
    public func storeDocument(_ document: StoredDocument, at time: Timestamp) throws {
        guard Hash.sha256(document.content) == document.hash else { throw StorageError.integrity("document \(document.hash) does not hash to its name") }
        try database.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO documents (hash, media_type, content, uploaded_by, stored_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [Data(document.hash.bytes), document.mediaType, Data(document.content), document.uploadedBy, Int64(time.rawValue)])
        }
    }

    /// A kept document, checked against its name: a row whose bytes changed on disk is an error,
    /// never served.
    public func document(_ hash: Hash) throws -> StoredDocument? {
        guard let row = try database.read({ db in
            try Row.fetchOne(db, sql: "SELECT media_type, content, uploaded_by FROM documents WHERE hash = ?", arguments: [Data(hash.bytes)])
        }) else { return nil }
        let content = [UInt8](row["content"] as Data)
        guard Hash.sha256(content) == hash else { throw StorageError.corruptRow(table: "documents", reason: "document \(hash) no longer hashes to its name") }
        return StoredDocument(hash: hash, mediaType: row["media_type"], content: content, uploadedBy: row["uploaded_by"])
    }

    public func hasDocument(_ hash: Hash) throws -> Bool {
        try database.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM documents WHERE hash = ?", arguments: [Data(hash.bytes)]) ?? false }
    }

    /// The committed transactions that cite a document.
    /// Where committed transactions cite a document, the first citing transaction first.
    public func citations(of hash: Hash) throws -> [DocumentCitation] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT record, tx, signer FROM document_citations WHERE document = ? ORDER BY height, tx, record", arguments: [Data(hash.bytes)])
        }.compactMap { row in
            guard let id = Hash(bytes: [UInt8](row["tx"] as Data)) else { return nil }
            return DocumentCitation(document: hash, record: row["record"], transaction: TransactionID(hash: id), signer: row["signer"])
        }
    }

    /// Cited documents this node does not hold, oldest citation first, at most `limit`.
    public func missingDocuments(limit: Int) throws -> [Hash] {
        try database.read { db in
            try Data.fetchAll(db, sql: """
                SELECT DISTINCT c.document FROM document_citations c LEFT JOIN documents d ON d.hash = c.document
                WHERE d.hash IS NULL ORDER BY c.height LIMIT ?
                """, arguments: [limit])
        }.compactMap { Hash(bytes: [UInt8]($0)) }
    }

    /// How many reads of their passports each owner's log keeps; older ones are deleted.
    public static let passportReadsKeptPerOwner = 1_000

    /// Logs a read of a passport by someone other than its owners, once per owner, keeping each
    /// owner's latest `passportReadsKeptPerOwner`.
    public func logPassportRead(_ number: CadastralNumber, owners: [PartyID], reader: String, at time: Timestamp) throws {
        try database.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO passport_reads (owner, cadastral_number, reader, at) VALUES (?, ?, ?, ?)")
            let prune = try db.cachedStatement(sql: """
                DELETE FROM passport_reads WHERE owner = ?1 AND seq <= (
                    SELECT seq FROM passport_reads WHERE owner = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)
                """)
            for owner in owners {
                try insert.execute(arguments: [owner.rawValue, number.rawValue, reader, Int64(time.rawValue)])
                try prune.execute(arguments: [owner.rawValue, Self.passportReadsKeptPerOwner])
            }
        }
    }

    /// Keeps an extract this node served under its verification code, so that whoever holds the
    /// printed code can fetch the extract again and check it. The same extract is kept once.
    public func recordIssuedExtract(code: Hash, cadastralNumber: String, height: UInt64, json: [UInt8]) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO issued_extracts (code, cadastral_number, height, extract) VALUES (?, ?, ?, ?)",
                           arguments: [Data(code.bytes), cadastralNumber, Int64(clamping: height), Data(json)])
        }
    }

    /// The extract this node served with verification code `code`, as JSON, if it served one.
    public func issuedExtract(code: Hash) throws -> [UInt8]? {
        try database.read { db in
            try Data.fetchOne(db, sql: "SELECT extract FROM issued_extracts WHERE code = ?", arguments: [Data(code.bytes)])
        }.map { [UInt8]($0) }
    }

    /// The latest reads of `owner`'s passports by others, newest first.
    public func passportReads(of owner: PartyID, limit: Int) throws -> [PassportRead] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT cadastral_number, reader, at FROM passport_reads WHERE owner = ? ORDER BY seq DESC LIMIT ?",
                             arguments: [owner.rawValue, limit])
        }.map { row in
            PassportRead(cadastralNumber: row["cadastral_number"], reader: row["reader"], at: Timestamp(rawValue: UInt64(row["at"] as Int64)))
        }
    }

}

func decodeRow<T: BinaryCodable>(_ type: T.Type, _ bytes: Data, table: String) throws -> T {
    do {
        return try T.decode([UInt8](bytes))
    } catch {
        throw StorageError.corruptRow(table: table, reason: error.message)
    }
}
