import Foundation
public import Logging
import Metrics
public import TamgaConsensus
public import TamgaCore
public import TamgaLedger
import TamgaNetwork
import Synchronization
public import TamgaStorage

/// What became of a transaction, as a node knows it.
public enum TransactionStatus: Sendable, Equatable {
    case pending
    case committed(StoredReceipt)
    /// Admitted once, then dropped from the mempool without being committed (a block made it
    /// invalid, it expired, it was parked too long, or a higher fee displaced it).
    case dropped(code: String, reason: String)
    case unknown
}

/// The node cannot serve this now; the message says when it can.
public enum NodeBusy: CodedError, Equatable {
    /// The network is ahead of this node, which is fetching the blocks in between: its state is stale.
    case catchingUp(height: Height, networkHeight: Height)

    public var code: String { "node.catching_up" }

    public var message: String {
        switch self {
        case let .catchingUp(height, networkHeight):
            "this node is catching up (at block \(height), the network at \(networkHeight) or more); try again shortly or ask another node"
        }
    }
}

/// A snapshot of where the node stands, for `/v1/status` and the operators.
public struct NodeStatus: Sendable {
    public let chainID: ChainID
    public let genesisHash: Hash
    public let height: Height
    public let latestBlockHash: Hash
    public let latestBlockTime: Timestamp
    public let stateRoot: Hash
    /// The validators of the next height, in index order, each with its genesis name if it has one.
    public let validators: [(name: String?, validator: Validator)]
    /// This node's peer index: its place among the genesis validators, or past them for a follower.
    public let validator: ValidatorIndex
    /// Whether this node does not vote at the next height: its key is not in that height's set
    /// (a follower, or a validator governance removed).
    public let follower: Bool
    public let round: Round
    public let connectedPeers: [ValidatorIndex]
    public let mempoolTransactions: Int
    public let mempoolBytes: Int
    /// The greatest height that validators with more than a third of the power report: at least
    /// one honest validator has reached it.
    public let networkHeight: Height
    /// The network is more than a block ahead: this node's state is stale until it catches up.
    public let catchingUp: Bool
    /// The fee every transaction must offer at least, as governance last set it.
    public let minimumFee: Tiyn
}

/// One validator: storage, mempool, consensus driver, block execution and block sync, speaking
/// to its peers through `PeerNetwork`. An actor: every event (a peer's message, a timeout, a
/// submitted transaction) is handled one at a time, in arrival order.
///
/// Durability: a signing record is on disk before its message leaves (the consensus log); a
/// decided block, its receipts and its state version are on disk, in one SQLite transaction,
/// before anyone is told it is committed.
public actor Node {
    public nonisolated let genesis: GenesisFile
    public nonisolated let genesisHash: Hash
    public nonisolated let config: NodeConfig
    let logger: Logger
    let store: NodeStore
    nonisolated let network: PeerNetwork
    let identity: PeerIdentity
    let me: ValidatorIndex
    /// The key of every peer the node accepts, by peer index.
    nonisolated let peerKeys: [ValidatorIndex: PublicKey]
    /// The validator set of each height, read off the actor by the checks of peers' messages.
    nonisolated let validatorSets: Mutex<ValidatorSets>
    let timeouts: TimeoutConfig
    /// Documents asked of the peers and not yet received, with when they were asked for.
    nonisolated let documentRequests = Mutex<[Hash: ContinuousClock.Instant]>([:])

    private let ledger: Ledger<SignatureMemory>
    private let signatures: SignatureMemory
    let tree: DiskTreeNodeStore
    let map: AuthenticatedMap<DiskTreeNodeStore>
    private let ledgerCache = LedgerStateCache()

    // The chain as decided.
    var height: Height
    var lastBlock: Block?
    /// The commit that finalized `lastBlock`; the next proposer puts it in its block.
    var lastCommit: Commit?
    /// The state after `lastBlock`: version `height + 1`.
    var stateRoot: Hash
    private var stateVersion: UInt64 { height.rawValue + 1 }

    // Consensus.
    var consensus: ConsensusState
    /// Proposed blocks of the current and next height, by hash: this node's own, and peers' only
    /// once their proposal verified (`learn`).
    private var candidates: [Hash: Block] = [:]
    /// The peers' blocks held per height and round, at most `Node.blocksPerRoundMax` each.
    private var candidateSlots: [Height: [Round: Set<Hash>]] = [:]
    private var awaitingValidation: Set<Hash> = []
    private var pendingEvidence: [Evidence] = []
    private var lastProgress: (Height, Round, Step)?
    /// A peer proposed the next height while this node waited for transactions: start at once.
    private var nextHeightProposed = false

    // Mempool and clients waiting for their transactions.
    private var mempool = Mempool()
    private var waiters: [TransactionID: [UInt64: CheckedContinuation<StoredReceipt?, Never>]] = [:]
    private var waiterCount: UInt64 = 0
    /// Admitted transactions not yet passed to the peers.
    private var outgoing: [SignedEnvelope] = []
    /// Transactions dropped from the mempool, with the code and reason, oldest forgotten first.
    private var dropped: [TransactionID: (code: String, reason: String)] = [:]
    private var droppedOrder: [TransactionID] = []
    private var droppedHead = 0

    // Block sync.
    /// The heights peers claim, with when they said so. A claim is only a hint: blocks are taken
    /// against their commits, and a peer whose claim turned out empty is not asked for a while.
    var peerHeights: [ValidatorIndex: (height: Height, at: ContinuousClock.Instant)] = [:]
    var unreliableUntil: [ValidatorIndex: ContinuousClock.Instant] = [:]
    private var syncRequest: (peer: ValidatorIndex, from: Height, at: ContinuousClock.Instant)?
    /// Every request for blocks still unanswered, by peer: an answer that comes after the request
    /// timed out is still read (its commits verify or not), not thrown away.
    var asked: [ValidatorIndex: (from: Height, at: ContinuousClock.Instant)] = [:]
    /// When each peer was last asked, so that requests rotate among the peers ahead.
    private var lastAsked: [ValidatorIndex: ContinuousClock.Instant] = [:]
    /// Set when the node found that its own state disagrees with a committed block: it stops.
    private var fatal: String?
    /// Set while the node fetches its first state from peers (`config.stateSync` on an empty
    /// database); consensus and block sync wait until it is done.
    var stateSync: StateSyncState?
    /// What each peer may still ask of this node's snapshots (`Node.snapshotAnswerBudget`).
    var snapshotBudgets: [ValidatorIndex: (tokens: Double, at: ContinuousClock.Instant)] = [:]
    /// The bytes of handovers one page holds past its first (`PeerMessage.snapshotBytesMax`;
    /// tests make pages smaller).
    var handoverPageBytes = PeerMessage.snapshotBytesMax
    /// Pages of handovers this node has served.
    var handoverPagesServed = 0
    /// Tests that play a lying peer set this to rewrite the snapshot answers (tops and records)
    /// this node sends. Nothing in a configuration or the API reaches it; a real node leaves it nil.
    var snapshotAnswerTamper: (@Sendable (PeerMessage) -> PeerMessage)?
    private var isRunning = false

    /// Decided-height gauge and friends, for `/metrics`.
    private let heightGauge = Gauge(label: "tamga_height")
    private let roundGauge = Gauge(label: "tamga_round")
    private let mempoolGauge = Gauge(label: "tamga_mempool_transactions")
    private let mempoolBytesGauge = Gauge(label: "tamga_mempool_bytes")
    private let peersGauge = Gauge(label: "tamga_peers_connected")
    /// Pruned state versions whose stale tree nodes are still to be deleted (NodeStore.prune).
    private let pruneBacklogGauge = Gauge(label: "tamga_state_prune_backlog_versions")
    private let committedCounter = Counter(label: "tamga_transactions_committed_total")
    private let rejectedCounter = Counter(label: "tamga_transactions_rejected_total")
    private let blocksCounter = Counter(label: "tamga_blocks_committed_total")
    private let syncedCounter = Counter(label: "tamga_blocks_synced_total")
    private let disconnectCounter = Counter(label: "tamga_peer_disconnects_total")
    private let commitTimer = Metrics.Timer(label: "tamga_block_commit_seconds")

    /// Opens the node's folder: reads genesis, config and key, opens the database, and checks
    /// that the stored chain and state agree (refusing to start on any mismatch).
    public init(home: NodeHome, logger: Logger) throws {
        let genesis = try home.loadGenesis()
        let config = try home.loadConfig()
        let identity = try home.loadIdentity()
        let validators = try genesis.validatorSet()
        let me = ValidatorIndex(config.validator)
        let peerKeys = try Node.peerKeys(config: config, validators: validators, me: me)
        if config.follower == true {
            guard validators[me] == nil, !genesis.validators.contains(where: { $0.publicKey == identity.key.publicKey }) else {
                throw NodeFileError.malformed(file: home.configURL.path, reason: "a follower's index and key must not be a genesis validator's (index \(config.validator))")
            }
        } else {
            guard let own = validators[me], own.publicKey == identity.key.publicKey else {
                throw NodeFileError.malformed(file: home.configURL.path, reason: "validator \(config.validator) in genesis does not have this node's key \(identity.key.publicKey)")
            }
        }
        let timeouts = TimeoutConfig(proposeMillis: config.proposeTimeoutMillis, prevoteMillis: config.voteTimeoutMillis,
                                     precommitMillis: config.voteTimeoutMillis, deltaMillisPerRound: config.voteTimeoutMillis / 2)
        try FileManager.default.createDirectory(at: home.databaseURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let store = try NodeStore(path: home.databaseURL.path)
        try store.bind(toGenesis: genesis.hash)
        let tree = try DiskTreeNodeStore(store, cacheBytes: config.stateCacheBytes)
        let map = AuthenticatedMap(store: tree)
        // A node told to join by state sync, with nothing stored yet, fetches its state from peers
        // when it runs; otherwise it starts from what it stored (or from genesis).
        let isEmpty = try store.lastHeight() == Height(0) && store.storedRoot(version: 1) == nil
        let joining = config.stateSync == true && isEmpty
        if joining {
            try store.discardUnfinishedSnapshot()
            try tree.refreshLatest()
        }
        let sets = ValidatorSets(genesis: validators, stored: try store.validatorSets(), executed: try store.lastHeight())
        let restored = joining ? Restored(height: Height(0), lastBlock: nil, lastCommit: nil, stateRoot: .zero)
            : try Node.restore(store: store, tree: tree, map: map, genesis: genesis, validators: sets,
                               ledger: Ledger(chainID: genesis.chainID, verifier: DirectVerifier()))
        // Each signature is verified once, at admission (off the actor); execution finds the verdict remembered.
        let signatures = SignatureMemory()
        self.signatures = signatures
        self.genesis = genesis
        self.genesisHash = genesis.hash
        self.config = config
        self.logger = logger
        self.identity = identity
        self.me = me
        self.peerKeys = peerKeys
        self.validatorSets = Mutex(sets)
        self.timeouts = timeouts
        self.ledger = Ledger(chainID: genesis.chainID, verifier: signatures)
        self.store = store
        self.tree = tree
        self.map = map
        height = restored.height
        lastBlock = restored.lastBlock
        lastCommit = restored.lastCommit
        stateRoot = restored.stateRoot
        stateSync = joining ? StateSyncState() : nil
        consensus = ConsensusState(
            chainID: genesis.chainID, height: restored.height.next, validators: sets.validators(at: restored.height.next),
            previousBlockTime: restored.lastBlock?.header.time ?? genesis.genesisTime, timeouts: timeouts,
            signingKey: identity.key, resumingFrom: try store.signingRecords())
        consensus.expectNextHeight(validators: sets.validators(at: restored.height.next.next))
        candidates = Dictionary(try store.proposedBlocks().map { ($0.hash, $0) }, uniquingKeysWith: { first, _ in first })
        network = PeerNetwork(
            identity: identity, chainID: genesis.chainID, genesisHash: genesis.hash, me: me,
            peerKeys: peerKeys,
            listen: PeerEndpoint(host: config.peerHost, port: config.peerPort),
            peers: Dictionary(uniqueKeysWithValues: config.peers.map { (ValidatorIndex($0.validator), PeerEndpoint(host: $0.host, port: $0.port)) }),
            backoff: PeerNetwork.Backoff(baseMillis: config.peerBackoffMillis ?? 1_000), logger: logger)
        logger.info("node opened", metadata: ["height": "\(restored.height)", "stateRoot": "\(restored.stateRoot)", "validator": "\(me)"])
    }

    /// Runs consensus and the peer network until cancelled (or until the node finds its own
    /// state inconsistent with the chain, which it reports by throwing).
    public func run() async throws {
        // Once run ends, timers still pending find the node stopped and do nothing.
        defer { isRunning = false }
        isRunning = true
        if stateSync == nil { handle(.start) }
        do {
            try await runServices()
        } catch {
            // When shutting down, the peer connections and timers end with the task; that is no failure.
            guard Task.isCancelled else { throw error }
        }
    }

    /// The node's long-running tasks. Any of them ending ends the node, except state sync, which
    /// ends when the state is fetched and the node follows the chain.
    private enum Service { case network, ticks, documents, stateSync }

    private func runServices() async throws {
        try await withThrowingTaskGroup(of: Service.self) { group in
            group.addTask { [network] in
                try await network.run(height: { await self.decidedHeight }, handler: { peer, message in await self.receive(message, from: peer) })
                return .network
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    try await self.tick()
                }
                return .ticks
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(2))
                    self.requestMissingDocuments()
                }
                return .documents
            }
            if stateSync != nil {
                group.addTask {
                    while await self.stateSync != nil {
                        try await Task.sleep(for: .milliseconds(100))
                        try await self.stepStateSync()
                    }
                    return .stateSync
                }
            }
            while let ended = try await group.next(), ended == .stateSync {}
            group.cancelAll()
        }
    }

    var decidedHeight: Height { height }

    /// The validator set that signs `height`.
    nonisolated func validators(at height: Height) -> ValidatorSet {
        validatorSets.withLock { $0.validators(at: height) }
    }

    /// The proofs of every validator-set change so far, in height order: what extracts carry so
    /// that a verifier holding the genesis file reaches the set of their height.
    public nonisolated var validatorHandovers: [ValidatorHandover] { validatorSets.withLock { $0.orderedHandovers } }

    /// A fresh consensus state machine for the height after the last decided one, keeping the
    /// signing guard. The node votes at every height whose set holds its key.
    func consensusForNextHeight(resumingFrom records: [SigningRecord]) -> ConsensusState {
        var state = ConsensusState(chainID: genesis.chainID, height: height.next, validators: validators(at: height.next),
                                   previousBlockTime: lastBlock?.header.time ?? genesis.genesisTime, timeouts: timeouts,
                                   signingKey: identity.key, resumingFrom: records)
        state.expectNextHeight(validators: validators(at: height.next.next))
        return state
    }

    /// The key of every peer the node accepts: the genesis validators by index, and the followers
    /// its configuration names, each at an index past the validators with its own key.
    static func peerKeys(config: NodeConfig, validators: ValidatorSet, me: ValidatorIndex) throws -> [ValidatorIndex: PublicKey] {
        var keys: [ValidatorIndex: PublicKey] = [:]
        for (index, validator) in validators.validators.enumerated() { keys[ValidatorIndex(UInt16(index))] = validator.publicKey }
        for peer in config.peers {
            let index = ValidatorIndex(peer.validator)
            if validators[index] != nil {
                guard peer.publicKey == nil || peer.publicKey == validators[index]?.publicKey else {
                    throw NodeFileError.malformed(file: "config.json", reason: "peer \(peer.validator) is a genesis validator, whose key genesis names; its publicKey here differs")
                }
                continue
            }
            guard let key = peer.publicKey else {
                throw NodeFileError.malformed(file: "config.json", reason: "peer \(peer.validator) is not a genesis validator, so it needs a publicKey (a follower's node key)")
            }
            guard !keys.values.contains(key) else {
                throw NodeFileError.malformed(file: "config.json", reason: "peer \(peer.validator) has a key another peer already has")
            }
            keys[index] = key
        }
        return keys
    }

    // MARK: Restoring from disk

    private struct Restored {
        let height: Height
        let lastBlock: Block?
        let lastCommit: Commit?
        let stateRoot: Hash
    }

    /// Checks what the node will build on, in time independent of the chain's length: the last
    /// block links to the one stored before it and to its transactions, its commit is signed by
    /// the validators, the stored state it names has that root (the root node read and hashed),
    /// and executing the block again gives the stored latest state. Every other stored node is
    /// checked against its parent's hash when it is first read; `tamga audit` checks everything.
    private static func restore(store: NodeStore, tree: DiskTreeNodeStore, map: AuthenticatedMap<DiskTreeNodeStore>,
                                genesis: GenesisFile, validators: ValidatorSets, ledger: Ledger<DirectVerifier>) throws -> Restored {
        let height = try store.lastHeight()
        let genesisUpdates = genesis.ledgerGenesis.stateUpdates()
        if height == Height(0), try store.storedRoot(version: 1) == nil {
            try map.apply(genesisUpdates, as: 1)
            try store.saveState(tree.pendingBatches)
            tree.written()
            return Restored(height: height, lastBlock: nil, lastCommit: nil, stateRoot: try map.rootHash(at: 1))
        }
        do {
            guard height > Height(0) else {
                // No block yet: the stored genesis state must be exactly the genesis file's.
                let expected = try genesisRoot(genesisUpdates)
                let root = try map.rootHash(at: 1)
                guard root == expected else { throw StorageError.integrity("the stored genesis state \(root) is not the genesis file's \(expected)") }
                try map.checkRoot(version: 1)
                return Restored(height: height, lastBlock: nil, lastCommit: nil, stateRoot: root)
            }
            guard let last = try store.block(at: height) else { throw StorageError.integrity("block \(height) is missing") }
            let header = last.block.header
            // A node that joined by state sync holds no block before the one it joined at, whose
            // commit (verified below) is all that vouches for it.
            let base = try store.baseHeight()
            let previousHash = height == Height(1) ? Hash.zero
                : height == base ? header.previousBlockHash : try store.blockHash(at: Height(height.rawValue - 1))
            guard header.height == height, header.chainID == genesis.chainID else {
                throw StorageError.integrity("block \(height) is stored as height \(header.height) of chain \(header.chainID)")
            }
            guard let previousHash, header.previousBlockHash == previousHash, header.transactionsRoot == Block.transactionsRoot(last.block.transactions),
                  (last.block.lastCommit?.blockHash ?? .zero) == previousHash
            else { throw StorageError.integrity("block \(height) does not link to block \(height.rawValue - 1) or to its own transactions") }
            do {
                try last.commit.verify(blockHash: last.block.hash, height: height, chainID: genesis.chainID, validators: validators.validators(at: height))
            } catch {
                throw StorageError.integrity("the commit of block \(height) does not verify: \(error.message)")
            }
            // The state the last (signed) header names.
            let signedVersion = height.rawValue
            let root = try map.rootHash(at: signedVersion)
            guard root == header.stateRoot else {
                throw StorageError.integrity("state version \(signedVersion) hashes to \(root), but block \(height) names \(header.stateRoot)")
            }
            try map.checkRoot(version: signedVersion)
            // The state after the last block is not signed by anyone yet: compute it again, beside
            // the stored one, and compare.
            let outcome = try ledger.execute(last.block.transactions, blockTime: header.time, state: MapSnapshot(map: map, version: signedVersion))
            let recomputed = try AuthenticatedMap(store: UnsavedVersionStore(tree, on: signedVersion)).apply(outcome.updates, as: signedVersion + 1)
            guard let stored = try store.storedRoot(version: signedVersion + 1), stored == recomputed else {
                throw StorageError.integrity("the stored state after block \(height) is not what executing the block gives (\(recomputed))")
            }
            try map.checkRoot(version: signedVersion + 1)
            return Restored(height: height, lastBlock: last.block, lastCommit: last.commit, stateRoot: recomputed)
        } catch let error as StateTreeError {
            throw StorageError.integrity(error.message)
        } catch let error as LedgerStateError {
            throw StorageError.integrity(error.description)
        }
    }

    private static func genesisRoot(_ updates: [StateUpdate]) throws -> Hash {
        try AuthenticatedMap(store: InMemoryTreeNodeStore()).apply(updates, as: 1)
    }

    // MARK: Transactions from clients

    /// Admits a transaction into the mempool and passes it to the peers; see `submission(_:)`.
    public nonisolated func submit(_ envelope: SignedEnvelope) async throws -> TransactionID {
        try await submission(envelope).id
    }

    /// Admits a transaction into the mempool and passes it to the peers, and says where it stands:
    /// `.pending` once admitted (or already waiting), `.committed` if it already is.
    ///
    /// The costly parts run off the actor, on the caller's task: decoding the payload and
    /// verifying its signatures against the keys the latest state names (the verdicts are
    /// remembered, so the actor's admission check finds them). No volume of submissions holds
    /// the actor for longer than a lookup and the mempool insert each.
    ///
    /// - Throws: `NodeBusy` while catching up, `Rejection` (the ledger's checks before
    ///   execution), `MempoolError`.
    public nonisolated func submission(_ envelope: SignedEnvelope) async throws -> (id: TransactionID, status: TransactionStatus) {
        try await submission(PreparedTransaction(envelope))
    }

    /// `submission(_:)` for a transaction whose payload the caller decoded already.
    public nonisolated func submission(_ transaction: PreparedTransaction) async throws -> (id: TransactionID, status: TransactionStatus) {
        if let stored = try store.receipt(for: transaction.id) { return (transaction.id, .committed(stored)) }
        verifySignatures(of: transaction, with: await signingKeys(of: transaction))
        do {
            return (transaction.id, try await admitSubmitted(transaction))
        } catch let rejection as Rejection {
            // Committed meanwhile (its nonce is then used): say so rather than refuse it.
            if let stored = try store.receipt(for: transaction.id) { return (transaction.id, .committed(stored)) }
            throw rejection
        }
    }

    /// Verifies the signatures of a transaction off the actor, leaving the verdicts in memory.
    private nonisolated func verifySignatures(of transaction: PreparedTransaction, with keys: [(Signature, PublicKey)]) {
        for (signature, key) in keys { _ = signatures.isValid(signature, by: key, for: transaction.envelope.payload) }
    }

    /// The key behind each of the envelope's signatures in the latest state (or the key the
    /// transaction itself introduces); signatures by unknown keys are left to the ledger to refuse.
    private func signingKeys(of transaction: PreparedTransaction) -> [(Signature, PublicKey)] {
        ledger.signingKeys(of: transaction, state: MapSnapshot(map: map, version: stateVersion), cache: (ledgerCache, stateRoot))
    }

    private func admitSubmitted(_ transaction: PreparedTransaction) throws -> TransactionStatus {
        if mempool.contains(transaction.id) { return .pending }
        guard !isCatchingUp, stateSync == nil else { throw NodeBusy.catchingUp(height: height, networkHeight: networkHeight) }
        try admit(transaction)
        outgoing.append(transaction.envelope)
        if outgoing.count == 1 {
            // Transactions go to the peers in batches, every few milliseconds.
            Task {
                try? await Task.sleep(for: .milliseconds(Node.gossipIntervalMillis))
                self.flushOutgoing()
            }
        }
        return .pending
    }

    private static let gossipIntervalMillis = 10

    private func flushOutgoing() {
        while !outgoing.isEmpty {
            let batch = Array(outgoing.prefix(PeerMessage.transactionsPerMessageMax))
            outgoing.removeFirst(batch.count)
            network.broadcast(.transactions(batch))
        }
    }

    /// The ledger's checks, then the mempool's own: an expiry at most `expiryAheadMaxHours`
    /// ahead, and fees of the sender's waiting transactions within its balance.
    private func admit(_ transaction: PreparedTransaction) throws {
        let now = Node.wallClock()
        let admission = try checkAdmission(transaction, now: now)
        let (signer, nonce) = (admission.signer, admission.nonce)
        let payload = try transaction.payload.get()
        guard payload.expiresAt.rawValue <= now.rawValue + UInt64(Node.expiryAheadMaxHours) * 3_600_000 else {
            throw MempoolError.expiresTooLate(maxHours: Node.expiryAheadMaxHours)
        }
        if let waiting = mempool.waiting(from: signer, nonce: nonce) { throw MempoolError.nonceTaken(signer, nonce: nonce, waiting: waiting) }
        let (fees, overflow) = mempool.waitingFees(of: signer).addingReportingOverflow(payload.fee.rawValue)
        guard !overflow, fees <= admission.balance.rawValue else { throw MempoolError.feesExceedBalance(signer) }
        // Only a transaction that can go into the next block may displace another: one parked
        // behind a nonce gap would take a place and never pay for it.
        let committed = admission.lastNonce
        let executable = nonce > committed && (committed + 1..<nonce).allSatisfy { mempool.waiting(from: signer, nonce: $0) != nil }
        for displaced in try mempool.add(transaction, signer: signer, nonce: nonce, mayDisplace: executable) {
            drop(displaced, because: "mempool.displaced", "displaced from a full mempool by a transaction offering a higher fee")
        }
        mempoolGauge.record(mempool.count)
        mempoolBytesGauge.record(mempool.bytes)
    }

    /// How far ahead a waiting transaction may expire.
    static let expiryAheadMaxHours = 24
    /// How long a transaction may wait behind a nonce gap before it is dropped.
    static let parkedLifetime = Duration.seconds(60)
    /// How many dropped transactions are remembered, for their senders to ask about.
    static let droppedRemembered = 100_000

    /// Removes a waiting transaction that will not be committed, remembering why.
    private func drop(_ id: TransactionID, because code: String, _ reason: String) {
        mempool.remove(id)
        // Whoever waits for it to commit is told at once that it will not (from this mempool).
        if let waiting = waiters.removeValue(forKey: id) {
            for continuation in waiting.values { continuation.resume(returning: nil) }
        }
        if dropped.updateValue((code, reason), forKey: id) == nil { droppedOrder.append(id) }
        if dropped.count > Node.droppedRemembered {
            dropped[droppedOrder[droppedHead]] = nil
            droppedHead += 1
            if droppedHead > Node.droppedRemembered / 2 {
                droppedOrder.removeFirst(droppedHead)
                droppedHead = 0
            }
        }
    }

    /// Where the transaction stands.
    public nonisolated func status(of id: TransactionID) async throws -> TransactionStatus {
        if let stored = try store.receipt(for: id) { return .committed(stored) }
        return try await waitingStatus(of: id)
    }

    private func waitingStatus(of id: TransactionID) throws -> TransactionStatus {
        if mempool.contains(id) { return .pending }
        // Committed between the caller's look and this one.
        if let stored = try store.receipt(for: id) { return .committed(stored) }
        if let (code, reason) = dropped[id] { return .dropped(code: code, reason: reason) }
        return .unknown
    }

    /// Waits until the transaction is committed (returning its receipt), or until it is dropped
    /// from the mempool or `timeout` passes (nil; `status(of:)` then says which).
    public func waitForCommit(_ id: TransactionID, timeout: Duration) async throws -> StoredReceipt? {
        if let stored = try store.receipt(for: id) { return stored }
        // Dropped before the wait began: nothing will come.
        if dropped[id] != nil { return nil }
        waiterCount += 1
        let token = waiterCount
        return await withCheckedContinuation { continuation in
            waiters[id, default: [:]][token] = continuation
            Task {
                try? await Task.sleep(for: timeout)
                self.expireWaiter(id, token: token)
            }
        }
    }

    private func expireWaiter(_ id: TransactionID, token: UInt64) {
        guard let continuation = waiters[id]?.removeValue(forKey: token) else { return }
        if waiters[id]?.isEmpty == true { waiters[id] = nil }
        continuation.resume(returning: nil)
    }

    public func status() -> NodeStatus {
        NodeStatus(chainID: genesis.chainID, genesisHash: genesisHash, height: height, latestBlockHash: lastBlock?.hash ?? .zero,
                   latestBlockTime: lastBlock?.header.time ?? genesis.genesisTime, stateRoot: stateRoot,
                   validators: validators(at: height.next).validators.map { validator in
                       (genesis.validators.first { $0.publicKey == validator.publicKey }?.name, validator)
                   },
                   validator: me, follower: consensus.validatorIndex == nil, round: consensus.round, connectedPeers: network.connectedPeers.sorted(),
                   mempoolTransactions: mempool.count, mempoolBytes: mempool.bytes, networkHeight: networkHeight, catchingUp: isCatchingUp,
                   minimumFee: (try? queries.parameters().minimumFee) ?? genesis.parameters.minimumFee)
    }

    /// A decided block with its commit and its transactions' receipts, from storage.
    public nonisolated func block(at height: Height) throws -> (block: Block, commit: Commit, receipts: [Receipt])? {
        // A node that joined by state sync holds no block below the one it joined at.
        try blocks(from: height, limit: 1).first { $0.block.header.height == height }
    }

    /// Up to `limit` consecutive blocks from `height` on, each with its commit and receipts.
    public nonisolated func blocks(from height: Height, limit: Int) throws -> [(block: Block, commit: Commit, receipts: [Receipt])] {
        try store.blocks(from: height, limit: limit).map { ($0.block, $0.commit, try store.receipts(at: $0.block.header.height)) }
    }

    /// A party's public record (roles and keys) and its last nonce, at the latest state.
    public func party(_ id: PartyID) throws -> (record: PartyRecord, nonce: UInt64)? {
        let queries = try currentQueries()
        guard let record = try queries.party(id) else { return nil }
        return (record, try queries.nonce(of: id))
    }

    // MARK: Registry reads (latest state)

    private var queries: LedgerQueries<MapSnapshot<DiskTreeNodeStore>> { LedgerQueries(state: MapSnapshot(map: map, version: stateVersion)) }

    /// The latest state for a client's read; refused while catching up, when it is known stale.
    private func currentQueries() throws -> LedgerQueries<MapSnapshot<DiskTreeNodeStore>> {
        guard !isCatchingUp, stateSync == nil else { throw NodeBusy.catchingUp(height: height, networkHeight: networkHeight) }
        return queries
    }

    public func passport(_ number: CadastralNumber) throws -> Passport? { try currentQueries().passport(number) }
    /// Whether `code` is the current access code of the passport (the hash never leaves the node).
    public func accessCodeOpens(_ number: CadastralNumber, code: String) throws -> Bool { try currentQueries().accessCode(number)?.opens(code) ?? false }

    /// The passport in the state that block `height`'s header names (the state after block
    /// `height - 1`), if that version is still retained.
    /// - Throws: `HistoryError` for a height not decided yet or pruned.
    public func passport(_ number: CadastralNumber, atBlock height: Height) throws -> Passport? {
        try LedgerQueries(state: MapSnapshot(map: map, version: try retainedVersion(atBlock: height))).passport(number)
    }

    private func retainedVersion(atBlock height: Height) throws -> UInt64 {
        guard height.rawValue >= 1, height <= self.height else { throw HistoryError.notDecided(height) }
        guard try tree.loadRoot(version: height.rawValue) != nil else { throw HistoryError.pruned(height) }
        // An old version's stored root is checked against the header that names it before any
        // node under it is read: every node below is then checked against its parent.
        let root = try map.rootHash(at: height.rawValue)
        guard let header = try store.blockHeader(at: height), header.stateRoot == root else {
            throw StorageError.integrity("the stored state of block \(height) is not the one its header names")
        }
        return height.rawValue
    }
    public func encumbrances(_ number: CadastralNumber) throws -> EncumbranceStatus? { try currentQueries().encumbrances(number) }
    public func properties(of party: PartyID) throws -> [CadastralNumber] { try currentQueries().properties(of: party) }
    public func account(of party: PartyID) throws -> Account { try currentQueries().account(party) }
    /// What an extract needs: the passport record's bytes with its proof against the state root
    /// that block `height`'s header names (the last decided block by default), that header and
    /// the commit that finalized it. Nil before the first block, or if the property is not
    /// registered in that state.
    public func extractParts(_ number: CadastralNumber, atBlock height: Height? = nil) throws
        -> (value: [UInt8], proof: StateProof, header: BlockHeader, commit: Commit)?
    {
        guard let lastBlock, let lastCommit else { return nil }
        var block = lastBlock, commit = lastCommit
        if let height, height != lastBlock.header.height {
            _ = try retainedVersion(atBlock: height)
            guard let stored = try store.block(at: height) else { throw HistoryError.notDecided(height) }
            (block, commit) = stored
        }
        // The header of block H names the state after block H - 1, which is version H.
        let (value, proof) = try map.proof(forKey: RecordKey.property(number), at: block.header.height.rawValue)
        guard let value else { return nil }
        return (value, proof, block.header, commit)
    }

    public func deed(_ id: TransactionID) throws -> Deed? { try currentQueries().deed(id) }

    /// Properties listed for sale now, with their passports, in cadastral-number order after
    /// `after`; `next` is where the following page starts (nil at the end). The index is read
    /// off the actor; each page of it costs the actor one batch of lookups.
    public nonisolated func offers(after: String?, limit: Int) async throws -> (offers: [(listing: Listing, passport: Passport)], next: String?) {
        var offers: [(listing: Listing, passport: Passport)] = []
        var cursor = after
        while offers.count < limit {
            let candidates = try store.listedProperties(after: cursor, limit: limit * 2)
            for (text, offer) in zip(candidates, try await listedOffers(candidates)) {
                cursor = text
                guard let offer else { continue }
                offers.append(offer)
                if offers.count == limit { return (offers, text) }
            }
            if candidates.count < limit * 2 { break }
        }
        return (offers, nil)
    }

    /// The listing and passport of each listed property (nil where the listing went since).
    private func listedOffers(_ numbers: [String]) throws -> [(listing: Listing, passport: Passport)?] {
        let queries = try currentQueries()
        return try numbers.map { text in
            guard let number = try? CadastralNumber(text), let listing = try queries.listing(number), let passport = try queries.passport(number) else { return nil }
            return (listing, passport)
        }
    }

    public func pledge(_ id: TransactionID) throws -> Pledge? { try currentQueries().pledge(id) }

    /// Pledges that wait for a registrar (proposed, or signed by the owners), oldest first after
    /// the cursor `height.position` of the previous page's last; `next` is nil at the end.
    /// Candidates that were decided since are dropped from the index as they are met.
    public nonisolated func pledgesUnderReview(after: (height: UInt64, position: Int)?, limit: Int) async throws
        -> (pledges: [Pledge], next: (height: UInt64, position: Int)?) {
        var pledges: [Pledge] = []
        var cursor = after
        while pledges.count < limit {
            let candidates = try store.pledgeCandidates(after: cursor, limit: limit * 2)
            var decided: [(height: UInt64, position: Int)] = []
            for (candidate, pledge) in zip(candidates, try await currentPledges(candidates.map(\.id))) {
                cursor = (candidate.height, candidate.position)
                guard let pledge, pledge.awaitsReview else {
                    decided.append((candidate.height, candidate.position))
                    continue
                }
                pledges.append(pledge)
                if pledges.count == limit {
                    try store.forgetPledgeCandidates(at: decided)
                    return (pledges, cursor)
                }
            }
            try store.forgetPledgeCandidates(at: decided)
            if candidates.count < limit * 2 { break }
        }
        return (pledges, nil)
    }

    private func currentPledges(_ ids: [TransactionID]) throws -> [Pledge?] {
        let queries = try currentQueries()
        return try ids.map { try queries.pledge($0) }
    }

    /// Events naming `subject` (`party/<id>` or `property/<number>`), oldest first, after a cursor.
    public nonisolated func events(about subject: String, after cursor: EventCursor?, limit: Int) throws -> [StoredEvent] {
        try store.events(about: subject, after: cursor, limit: limit)
    }

    /// Records that someone other than the owners read a passport; the owners see it with their notifications.
    public nonisolated func logPassportRead(_ number: CadastralNumber, owners: [PartyID], reader: String) throws {
        try store.logPassportRead(number, owners: owners, reader: reader, at: Node.wallClock())
    }

    public nonisolated func passportReads(of owner: PartyID, limit: Int) throws -> [PassportRead] {
        try store.passportReads(of: owner, limit: limit)
    }

    /// Keeps a served extract under its verification code (`GET /v1/extracts/{code}`).
    public nonisolated func recordIssuedExtract(code: Hash, cadastralNumber: CadastralNumber, height: Height, json: [UInt8]) throws {
        try store.recordIssuedExtract(code: code, cadastralNumber: cadastralNumber.rawValue, height: height.rawValue, json: json)
    }

    public nonisolated func issuedExtract(code: Hash) throws -> [UInt8]? { try store.issuedExtract(code: code) }

    /// The open deeds that name `party` (as seller, buyer or financing bank), found through the
    /// events that named it (every deed's opening names its parties) and, on a node that joined
    /// by state sync, through the open deeds its fetched state held.
    public nonisolated func openDeeds(of party: PartyID) async throws -> [Deed] {
        let synced = try store.syncedDeeds(of: party.rawValue)
        var seen = Set(synced)
        var ids: [TransactionID] = []
        var cursor: EventCursor?
        while true {
            let page = try store.events(about: "party/\(party)", after: cursor, limit: Limits.pageSizeMax)
            for stored in page where stored.event.kind == "deed.opened" {
                if let deed = stored.event.deed, seen.insert(deed).inserted { ids.append(deed) }
            }
            guard page.count == Limits.pageSizeMax else { break }
            cursor = page.last?.cursor
        }
        // Oldest first: the deeds open at the join, by when each was opened, then the later ones
        // in the order their blocks opened them.
        var open: [Deed] = []
        for id in synced {
            if let deed = try await deed(id), deed.status == .open { open.append(deed) }
        }
        open.sort { ($0.createdAt, $0.id.description) < ($1.createdAt, $1.id.description) }
        for id in ids {
            if let deed = try await deed(id), deed.status == .open { open.append(deed) }
        }
        return open
    }

    /// The first block this node holds: 1, or the block it joined at by state sync. Events,
    /// citations and receipts of earlier blocks are not here; what depends on them is asked of a
    /// node that holds the whole chain.
    public nonisolated func firstHeldBlock() throws -> Height { try store.baseHeight() }

    // MARK: Peers

    /// A peer's message. Gossiped transactions are decoded and their signatures verified on the
    /// connection's task, like clients' submissions, before the actor sees them; requests for
    /// blocks are served from storage on that task too. A peer's messages are handled one at a
    /// time, so a peer that floods requests waits for its own answers.
    nonisolated func receive(_ message: PeerMessage, from peer: ValidatorIndex) async -> PeerVerdict {
        switch message {
        case let .blocksRequest(from, count):
            return counted(serveBlocks(from: from, count: count, to: peer))
        case let .transactions(envelopes):
            let transactions = envelopes.map(PreparedTransaction.init)
            for (transaction, keys) in zip(transactions, await signingKeys(ofNew: transactions)) {
                verifySignatures(of: transaction, with: keys)
            }
            await admitGossiped(transactions)
            return .accepted
        case .proposal, .vote:
            switch checkSigned(message) {
            case let .misbehaving(reason): return counted(.misbehaving(reason))
            case .unknownSet: return .accepted
            case .verified: break
            }
        case .documentRequest, .document:
            return counted(receiveDocumentMessage(message, from: peer))
        default:
            break
        }
        return await receiveOnActor(message, from: peer)
    }

    /// What a proposal or vote must be whatever the node's state, checked off the actor: a
    /// validator in range, a proposal's block matching it and proposed in its proposer's turn,
    /// and a signature that verifies. Verdicts come from the signature memory, so a replayed
    /// message costs a lookup, not a verification.
    private nonisolated func checkSigned(_ message: PeerMessage) -> SignedCheck {
        switch message {
        case let .proposal(signed, block):
            let proposal = signed.proposal
            guard block.hash == proposal.blockHash, block.header.height == proposal.height else {
                return .misbehaving("a proposal whose block does not match its hash or height")
            }
            // A height whose set this node does not know yet: the node is behind, and block sync
            // brings it there.
            guard let (sets, proposer) = validatorSets.withLock({ $0.judge(height: proposal.height, round: proposal.round) }) else { return .unknownSet }
            guard let validator = sets[proposal.proposer] else { return .misbehaving("a proposal by validator index \(proposal.proposer), out of range") }
            guard proposal.proposer == proposer else {
                return .misbehaving("a proposal for height \(proposal.height) round \(proposal.round) by \(proposal.proposer), whose turn it is not")
            }
            // Nothing of the block is kept before the proposal's signature verifies.
            guard signatures.isValid(signed.signature, by: validator.publicKey, for: proposal.signBytes) else {
                return .misbehaving("a proposal whose signature does not verify")
            }
        case let .vote(signed):
            guard let (sets, _) = validatorSets.withLock({ $0.judge(height: signed.vote.height, round: nil) }) else { return .unknownSet }
            guard let validator = sets[signed.vote.validator] else { return .misbehaving("a vote by validator index \(signed.vote.validator), out of range") }
            // Honest peers pass on only votes that verify.
            guard signatures.isValid(signed.signature, by: validator.publicKey, for: signed.vote.signBytes) else {
                return .misbehaving("a vote whose signature does not verify")
            }
        default:
            break
        }
        return .verified
    }

    /// What `checkSigned` found.
    private enum SignedCheck {
        case verified
        case misbehaving(String)
        /// The message is for a height whose validator set this node does not know yet.
        case unknownSet
    }

    private nonisolated func counted(_ verdict: PeerVerdict) -> PeerVerdict {
        if case .misbehaving = verdict { disconnectCounter.increment() }
        return verdict
    }

    /// Sends up to `count` decided blocks from `from` on (nothing if there are none), at most
    /// half a frame's bytes.
    private nonisolated func serveBlocks(from: Height, count: UInt16, to peer: ValidatorIndex) -> PeerVerdict {
        guard from.rawValue >= 1 else { return .misbehaving("asked for blocks from height 0") }
        var decided: [PeerMessage.DecidedBlock] = []
        var bytes = 0
        // Read a few at a time, so that a request for many large blocks reads no more than it sends.
        var next = from
        reading: while decided.count < Int(count), let page = try? store.blocks(from: next, limit: min(8, Int(count) - decided.count)), !page.isEmpty {
            for (block, commit) in page {
                let size = block.encoded().count + commit.encoded().count
                if !decided.isEmpty, bytes + size > Limits.peerMessageBytesMax / 2 { break reading }
                bytes += size
                decided.append(PeerMessage.DecidedBlock(block: block, commit: commit))
                next = block.header.height.next
            }
        }
        network.send(.blocks(decided), to: peer)
        return .accepted
    }

    private func receiveOnActor(_ message: PeerMessage, from peer: ValidatorIndex) -> PeerVerdict {
        guard isRunning else { return .accepted }
        return counted(handlePeer(message, from: peer))
    }

    /// The signing keys of the transactions not yet waiting (none for those that are).
    private func signingKeys(ofNew transactions: [PreparedTransaction]) -> [[(Signature, PublicKey)]] {
        transactions.map { mempool.contains($0.id) ? [] : signingKeys(of: $0) }
    }

    private func admitGossiped(_ transactions: [PreparedTransaction]) {
        guard isRunning, fatal == nil, stateSync == nil else { return }
        for transaction in transactions where !mempool.contains(transaction.id) {
            // Another node's view of the state may differ for a moment; a refusal is not dishonesty.
            try? admit(transaction)
        }
    }

    private func handlePeer(_ message: PeerMessage, from peer: ValidatorIndex) -> PeerVerdict {
        guard fatal == nil else { return .accepted }
        switch message {
        case .hello:
            return .misbehaving("a second hello")
        case let .proposal(signed, block):
            // `checkSigned` has verified it against its block, its proposer's turn and its signature.
            let proposal = signed.proposal
            let next = height.next
            // Old heights are no news; heights past the next one are a peer ahead of this node,
            // which block sync handles.
            guard proposal.height >= next, proposal.height <= next.next, proposal.chainID == genesis.chainID else { return .accepted }
            learn(block, height: proposal.height, round: proposal.round)
            if consensus.hasDecided, proposal.height == next { nextHeightProposed = true }
            handle(.proposal(signed))
        case let .vote(signed):
            // `checkSigned` has verified its signature.
            guard signed.vote.height >= height.next, signed.vote.height <= height.next.next else { return .accepted }
            handle(.vote(signed))
        case let .transactions(envelopes):
            admitGossiped(envelopes.map(PreparedTransaction.init))
        case let .status(claimed):
            peerHeights[peer] = (claimed, .now)
            if stateSync == nil { requestBlocksIfBehind() }
        case let .blocksRequest(from, count):
            return serveBlocks(from: from, count: count, to: peer)
        case let .blocks(decided) where stateSync != nil:
            asked[peer] = nil
            return acceptStateSyncAnchor(decided, from: peer)
        case let .blocks(decided):
            // Only an answer to this node's own request is read: nobody can make it verify
            // commits it did not ask for.
            guard let request = asked.removeValue(forKey: peer), request.at.duration(to: .now) < .seconds(Node.answerLifetimeSeconds) else { return .accepted }
            if syncRequest?.peer == peer { syncRequest = nil }
            return applySynced(decided, from: peer, asked: request.from)
        case .documentRequest, .document:
            return receiveDocumentMessage(message, from: peer)
        case let .snapshotTopRequest(version):
            // Over its budget a peer gets no answer; an honest joining node asks another after a while.
            guard spendSnapshotAnswer(for: peer) else { break }
            do { try serveSnapshotTop(version: version, to: peer) } catch { logger.warning("cannot serve a snapshot: \(error)") }
        case let .snapshotRequest(version, prefix, count):
            guard spendSnapshotAnswer(for: peer) else { break }
            do { try serveSnapshotRecords(version: version, prefix: prefix, count: count, to: peer) } catch { logger.warning("cannot serve a snapshot: \(error)") }
        case .snapshotTop, .snapshotRecords:
            return acceptSnapshotMessage(message, from: peer)
        case let .handoversRequest(from):
            guard spendSnapshotAnswer(for: peer) else { break }
            serveHandovers(from: Int(from), to: peer)
        case let .handovers(from, handovers):
            return acceptHandovers(handovers, from: Int(from), peer: peer)
        }
        return .accepted
    }

    /// The blocks of one round that a node keeps from peers: an equivocating proposer gets two.
    static let blocksPerRoundMax = 2
    /// How many rounds past the current one a peer's block is kept for (the proposer sends its
    /// block again while the round is stuck, so a later one arrives again when it matters).
    static let blockRoundsAheadMax: UInt32 = 4
    /// How long a peer that claimed blocks it did not send (or did not answer) is not asked.
    static let unreliablePeerSeconds = 30
    /// A claimed height older than this is forgotten (peers say it every second).
    static let claimLifetimeSeconds = 10
    /// How long an answer to a request for blocks is still read.
    static let answerLifetimeSeconds = 30

    /// Asks a peer that claims more for the blocks after ours, at most one request at a time. A
    /// request unanswered for two seconds, or answered without the blocks, marks that peer
    /// unreliable for a while and the next request goes to another, so a peer that lies about its
    /// height delays catching up by one request, never for good.
    private func requestBlocksIfBehind() {
        let now = ContinuousClock.now
        if let request = syncRequest {
            guard request.from != height.next || request.at.duration(to: now) >= .seconds(2) else { return }
            if request.from == height.next { distrust(request.peer) }
            syncRequest = nil
        }
        let ahead = peerHeights.filter { $0.value.height > height && $0.value.at.duration(to: now) < .seconds(Node.claimLifetimeSeconds) }
        // Reliable peers first (if none is, the one trusted again soonest), then the one asked
        // longest ago, so that no single peer, however great its claim, answers every request.
        let never = now - .seconds(3_600)
        guard let (peer, claim) = ahead.min(by: { a, b in
            let (ua, ub) = (max(unreliableUntil[a.key] ?? now, now), max(unreliableUntil[b.key] ?? now, now))
            return (ua, lastAsked[a.key] ?? never, b.value.height, a.key) < (ub, lastAsked[b.key] ?? never, a.value.height, b.key)
        }) else { return }
        let count = UInt16(min(UInt64(PeerMessage.blocksPerMessageMax), claim.height.rawValue - height.rawValue))
        syncRequest = (peer, height.next, now)
        asked[peer] = (height.next, now)
        lastAsked[peer] = now
        network.send(.blocksRequest(from: height.next, count: count), to: peer)
    }

    /// A peer whose claim came to nothing: not asked again for a while, its claim forgotten.
    func distrust(_ peer: ValidatorIndex) {
        unreliableUntil[peer] = .now + .seconds(Node.unreliablePeerSeconds)
        peerHeights[peer] = nil
    }

    /// The greatest height that validators with more than a third of the voting power say they
    /// have reached (this node included), from claims of the last few seconds. At least one honest
    /// validator is among them, so no coalition of liars can move it.
    var networkHeight: Height {
        let now = ContinuousClock.now
        // The latest set known: a node behind a change weighs the claims of the set that decides
        // now, and a node fetching its state (which knows no height yet) the one it learnt.
        let validators = validatorSets.withLock { $0.latest }
        func power(of key: PublicKey?) -> UInt64 { key.flatMap(validators.index(of:)).flatMap { validators[$0]?.votingPower } ?? 0 }
        var claims = peerHeights.compactMap { peer, claim -> (Height, UInt64)? in
            guard claim.at.duration(to: now) < .seconds(Node.claimLifetimeSeconds) else { return nil }
            let weight = power(of: peerKeys[peer])
            return weight > 0 ? (claim.height, weight) : nil
        }
        claims.append((height, power(of: identity.key.publicKey)))
        var power: UInt64 = 0
        for (claimed, weight) in claims.sorted(by: { $0.0 > $1.0 }) {
            power += weight
            if validators.isMoreThanOneThird(power) { return max(claimed, height) }
        }
        return height
    }

    /// Whether the network is more than a block ahead of this node by `networkHeight`: its state
    /// is then known to be stale.
    var isCatchingUp: Bool { networkHeight.rawValue > height.rawValue &+ 1 }

    /// Applies blocks a peer sent in answer to this node's request, each only after its commit
    /// verifies against the validators (checked first: it needs nothing of the block but its hash)
    /// and the block against the chain. A block that does not verify marks the peer as dishonest.
    private func applySynced(_ decided: [PeerMessage.DecidedBlock], from peer: ValidatorIndex, asked from: Height) -> PeerVerdict {
        var applied = 0
        for item in decided {
            guard item.block.header.height == height.next else { continue }
            do {
                try item.commit.verify(blockHash: item.block.hash, height: item.block.header.height, chainID: genesis.chainID,
                                       validators: validators(at: item.block.header.height))
                try tip.validate(item.block)
            } catch {
                distrust(peer)
                return .misbehaving("sent block \(item.block.header.height) that does not verify: \(error)")
            }
            guard item.block.header.stateRoot == stateRoot else {
                stop("block \(item.block.header.height), committed by the validators, names state root \(item.block.header.stateRoot) but this node's state is \(stateRoot)")
                return .accepted
            }
            do {
                try commitBlock(item.block, commit: item.commit)
            } catch {
                stop("could not store block \(item.block.header.height): \(error)")
                return .accepted
            }
            applied += 1
            syncedCounter.increment()
        }
        guard applied > 0 else {
            // Asked for blocks it claimed to have and sent none of them (unless consensus moved
            // this node past them meanwhile).
            if from == height.next { distrust(peer) }
            requestBlocksIfBehind()
            return .accepted
        }
        logger.info("caught up from peer", metadata: ["peer": "\(peer)", "blocks": "\(applied)", "height": "\(height)"])
        // Consensus moves on to the height after the last block fetched, keeping the signing guard.
        forgetCandidates(through: height)
        do {
            consensus = consensusForNextHeight(resumingFrom: try store.signingRecords())
        } catch {
            stop("could not read the consensus log: \(error)")
            return .accepted
        }
        handle(.start)
        requestBlocksIfBehind()
        return .accepted
    }

    private func tick() throws {
        if let fatal { throw NodeFailure(fatal) }
        peersGauge.record(network.connectedPeers.count)
        guard stateSync == nil else { return }
        network.broadcast(.status(height: height))
        // Stuck in the same step for a second: send this height's messages again.
        let progress = (consensus.height, consensus.round, consensus.step)
        if let lastProgress, lastProgress == progress, !consensus.hasDecided {
            for message in consensus.gossip { send(message) }
        }
        lastProgress = progress
        requestBlocksIfBehind()
        dropParked()
    }

    // MARK: Consensus driver

    private var tip: ChainTip {
        ChainTip(chainID: genesis.chainID, height: height.next, previousBlockHash: lastBlock?.hash ?? .zero,
                 previousValidators: height.rawValue == 0 ? nil : validators(at: height), validators: validators(at: height.next),
                 genesisTime: genesis.genesisTime)
    }

    func handle(_ event: ConsensusEvent) {
        guard fatal == nil, isRunning else { return }
        let effects = consensus.handle(event, now: Node.wallClock())
        roundGauge.record(Int(consensus.round.rawValue))
        for effect in effects { carryOut(effect) }
    }

    private func carryOut(_ effect: ConsensusEffect) {
        switch effect {
        case let .persistThenBroadcast(record):
            var proposed: Block?
            if case let .proposal(signed) = record.message { proposed = candidates[signed.proposal.blockHash] }
            do {
                try store.appendSigningRecord(record, proposedBlock: proposed)
            } catch {
                // Without the record on disk the message must not leave: stop rather than risk signing twice.
                stop("could not persist a signing record: \(error)")
                return
            }
            send(record.message)
        case let .broadcast(message):
            send(message)
        case let .scheduleTimeout(timeout, after):
            Task {
                try? await Task.sleep(for: .milliseconds(after))
                self.handle(.timeout(timeout))
            }
        case let .validateBlock(_, _, hash):
            guard let block = candidates[hash] else {
                awaitingValidation.insert(hash)
                return
            }
            handle(.blockValidity(blockHash: hash, isValid: isValid(block)))
        case let .buildBlock(height, round):
            let block = buildBlock(height: height, round: round)
            candidates[block.hash] = block
            handle(.blockBuilt(height: height, round: round, blockHash: block.hash))
        case let .decide(decidedHeight, _, hash, commit, _):
            guard let block = candidates[hash] else {
                // Consensus decides only on blocks it validated, which this node holds.
                stop("decided block \(hash) at height \(decidedHeight) is not held")
                return
            }
            do {
                try commitBlock(block, commit: commit)
            } catch {
                stop("could not store decided block \(decidedHeight): \(error)")
                return
            }
            forgetCandidates(through: decidedHeight)
            Task { await self.startHeight(after: decidedHeight, previousBlockTime: block.header.time) }
        case let .evidence(evidence):
            if !pendingEvidence.contains(evidence), pendingEvidence.count < Limits.blockEvidenceMax { pendingEvidence.append(evidence) }
            logger.warning("validator equivocated", metadata: ["validator": "\(evidence.validator)", "height": "\(evidence.height)"])
        }
    }

    /// Starts the height after `decided` once the block interval has passed, and, while the
    /// mempool is empty, waits up to the empty-block interval for a transaction to arrive.
    private func startHeight(after decided: Height, previousBlockTime: Timestamp) async {
        let decidedAt = ContinuousClock.now
        try? await Task.sleep(for: .milliseconds(config.blockIntervalMillis))
        while mempool.count == 0, !nextHeightProposed, decidedAt.duration(to: .now) < .milliseconds(config.emptyBlockIntervalMillis), !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(25))
        }
        // Block sync may have moved the node on meanwhile.
        guard consensus.height == decided, consensus.hasDecided else { return }
        nextHeightProposed = false
        handle(.startHeight(decided.next, validators: validators(at: decided.next), previousBlockTime: previousBlockTime))
        consensus.expectNextHeight(validators: validators(at: decided.next.next))
    }

    private func send(_ message: ConsensusMessage) {
        switch message {
        case let .proposal(signed):
            guard let block = candidates[signed.proposal.blockHash] else { return }
            network.broadcast(.proposal(signed, block))
        case let .vote(signed):
            network.broadcast(.vote(signed))
        }
    }

    /// Keeps a block whose proposal verified, within the bounds per round and rounds ahead.
    private func learn(_ block: Block, height: Height, round: Round) {
        guard candidates[block.hash] == nil else { return }
        // A block consensus is waiting to validate is kept whatever the bounds: it has the proposal.
        let awaited = awaitingValidation.contains(block.hash)
        let currentRound = height == consensus.height ? consensus.round.rawValue : 0
        guard awaited || round.rawValue <= currentRound &+ Node.blockRoundsAheadMax else { return }
        var slot = candidateSlots[height, default: [:]][round, default: []]
        guard awaited || slot.count < Node.blocksPerRoundMax else { return }
        slot.insert(block.hash)
        candidateSlots[height, default: [:]][round] = slot
        candidates[block.hash] = block
        if awaitingValidation.remove(block.hash) != nil {
            handle(.blockValidity(blockHash: block.hash, isValid: isValid(block)))
        }
    }

    /// The hashes of the proposed blocks held now.
    var heldCandidates: Set<Hash> { Set(candidates.keys) }

    /// Forgets the blocks of heights up to `decided`.
    private func forgetCandidates(through decided: Height) {
        candidates = candidates.filter { $0.value.header.height > decided }
        candidateSlots = candidateSlots.filter { $0.key > decided }
        awaitingValidation = []
    }

    /// Consensus checks of the block, plus: it builds on this node's state, and its transactions
    /// fit the byte limit. Refused transactions inside a valid block just get refusal receipts.
    private func isValid(_ block: Block) -> Bool {
        do {
            try tip.validate(block)
        } catch {
            logger.notice("refusing proposed block", metadata: ["height": "\(block.header.height)", "reason": "\(error.message)"])
            return false
        }
        guard block.header.stateRoot == stateRoot else {
            logger.notice("refusing proposed block: it names another state root", metadata: ["height": "\(block.header.height)"])
            return false
        }
        return block.transactions.reduce(0) { $0 + $1.encodedByteCount } <= Limits.blockTransactionBytesMax
    }

    private func buildBlock(height: Height, round: Round) -> Block {
        let queries = LedgerQueries(state: MapSnapshot(map: map, version: stateVersion))
        let transactions = mempool.reap(transactionsMax: min(config.blockTransactionsMax, Limits.blockTransactionsMax),
                                        bytesMax: Limits.blockTransactionBytesMax,
                                        nextNonce: { try? queries.nonce(of: $0) + 1 }).map(\.envelope)
        pendingEvidence.removeAll { $0.height.next < height }
        let evidence = pendingEvidence
        let time = lastCommit.map { BlockTime.weightedMedian(of: $0, validators: validators(at: $0.height)) } ?? genesis.genesisTime
        // Consensus asks for a block only at a height whose set holds this node's key.
        let proposer = consensus.validatorIndex ?? ValidatorIndex(0)
        let header = BlockHeader(
            chainID: genesis.chainID, height: height, time: time, previousBlockHash: lastBlock?.hash ?? .zero,
            lastCommitHash: lastCommit?.hash ?? .zero, transactionsRoot: Block.transactionsRoot(transactions),
            evidenceRoot: Block.evidenceRoot(evidence), stateRoot: stateRoot, validatorSetHash: validators(at: height).hash, proposer: proposer)
        return Block(header: header, transactions: transactions, lastCommit: lastCommit, evidence: evidence)
    }

    // MARK: Committing

    /// Executes a decided block, stores it with its state and receipts in one durable write, and
    /// only then tells waiting clients and updates the mempool.
    func commitBlock(_ block: Block, commit: Commit) throws {
        let started = ContinuousClock.now
        let prepared = block.transactions.map { envelope in
            mempool.entries[envelope.transactionID]?.transaction ?? PreparedTransaction(envelope)
        }
        let outcome = try ledger.execute(prepared, blockTime: block.header.time, state: MapSnapshot(map: map, version: stateVersion),
                                         cache: (ledgerCache, stateRoot))
        let newVersion = stateVersion + 1
        let handover = try completedHandover(by: block, commit: commit)
        let newRoot = try map.apply(outcome.updates, as: newVersion)
        ledgerCache.advance(to: newRoot)
        let pruneBefore = config.oldestStateVersionKept(latest: newVersion)
        if let pruneBefore { tree.prune(keepingFrom: pruneBefore) }
        var sets = validatorSets.withLock { $0 }
        let decided = try ValidatorHandover.decidedSet(in: outcome.updates)
        let changes = sets.executed(block.header.height, deciding: decided)
        if let handover { sets.record(handover, from: block.header.height.next) }
        let pruneBacklog = try store.commit(CommittedBlock(block: block, commit: commit, receipts: outcome.receipts,
                                                           citations: Self.citations(in: prepared, receipts: outcome.receipts),
                                                           decidedValidators: changes ? decided : nil, handover: handover),
                                            tree: tree.pendingBatches, pruneBefore: pruneBefore)
        tree.written()
        pruneBacklogGauge.record(Int(clamping: pruneBacklog))
        validatorSets.withLock { $0 = sets }
        if changes, let decided {
            logger.notice("validator set changes", metadata: ["from": "\(sets.horizon)", "validators": "\(decided.count)", "hash": "\(decided.hash)"])
        }
        height = block.header.height
        lastBlock = block
        lastCommit = commit
        stateRoot = newRoot
        pendingEvidence.removeAll { block.evidence.contains($0) }

        let signers = Set(prepared.compactMap { try? $0.payload.get().signer })
        for (position, receipt) in outcome.receipts.enumerated() {
            mempool.remove(receipt.transaction)
            if receipt.isCommitted { committedCounter.increment() } else { rejectedCounter.increment() }
            if let waiting = waiters.removeValue(forKey: receipt.transaction) {
                let stored = StoredReceipt(height: height, position: position, receipt: receipt)
                for continuation in waiting.values { continuation.resume(returning: stored) }
            }
        }
        recheckMempool(touching: signers)
        blocksCounter.increment()
        heightGauge.record(Int(height.rawValue))
        let elapsed = started.duration(to: .now).components
        commitTimer.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    /// The handover of a set decided by the block before `block`: `block`'s header names the state
    /// that holds the new set, and `commit` finalizes it (nil when no set waits for it).
    private func completedHandover(by block: Block, commit: Commit) throws -> ValidatorHandover? {
        let header = block.header
        guard validatorSets.withLock({ $0.awaitsHandover(from: header.height.next) }) else { return nil }
        let (value, proof) = try map.proof(forKey: RecordKey.validators, at: header.height.rawValue)
        guard let value else { throw StorageError.integrity("a validator set was decided before block \(header.height), but its state holds none") }
        return ValidatorHandover(header: header, commit: commit, record: value, proof: proof)
    }

    /// The ledger's checks before execution against the latest state; a sender's nonce may run
    /// ahead by as many transactions as the mempool holds for one sender.
    private func checkAdmission(_ transaction: PreparedTransaction, now: Timestamp) throws -> Ledger<SignatureMemory>.Admission {
        try ledger.admit(transaction, now: now, state: MapSnapshot(map: map, version: stateVersion),
                         nonceLookahead: UInt64(Limits.mempoolTransactionsPerSenderMax - 1), cache: (ledgerCache, stateRoot))
    }

    /// Drops waiting transactions that the new state makes invalid: those of senders who had a
    /// transaction in the block are checked again in full (nonce used, fee no longer affordable,
    /// alone or with the sender's other waiting fees); the rest only for expiry, as a block
    /// changes no one else's nonce and lowers no one else's balance but by court order (and a
    /// transaction that can no longer pay is refused in its block without any change).
    /// Signatures come from memory.
    private func recheckMempool(touching signers: Set<PartyID>) {
        let now = Node.wallClock()
        for entry in mempool.all {
            if !signers.contains(entry.signer) {
                if case let .success(payload) = entry.transaction.payload, payload.expiresAt >= now { continue }
                drop(entry.transaction.id, because: "tx.expired", "expired while waiting")
                continue
            }
            do {
                _ = try checkAdmission(entry.transaction, now: now)
            } catch let error as any CodedError {
                drop(entry.transaction.id, because: error.code, "no longer admissible after the last block: \(error.message)")
            } catch {
                drop(entry.transaction.id, because: "tx.invalid", "no longer admissible after the last block")
            }
        }
        for signer in signers {
            guard let balance = try? queries.account(signer).balance else { continue }
            for id in mempool.unaffordable(of: signer, balance: balance) {
                drop(id, because: "mempool.fees_exceed_balance", "the sender's waiting fees came to more than its balance")
            }
        }
        mempoolGauge.record(mempool.count)
        mempoolBytesGauge.record(mempool.bytes)
    }

    /// Drops transactions that waited behind a nonce gap for longer than `parkedLifetime`.
    private func dropParked() {
        let queries = self.queries
        for id in mempool.parked(admittedBefore: .now - Node.parkedLifetime, nextNonce: { try? queries.nonce(of: $0) + 1 }) {
            drop(id, because: "mempool.parked_too_long", "waited more than \(Node.parkedLifetime) for the transactions with the nonces before its own")
        }
    }

    /// Stops taking part: the node's own state disagrees with the chain, or its disk failed.
    func stop(_ reason: String) {
        guard fatal == nil else { return }
        fatal = reason
        logger.critical("node stopping: \(reason)")
    }

    public static func wallClock() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: UInt64(max(0, Date().timeIntervalSince1970 * 1_000)))
    }
}

/// Why a past state cannot be read.
public enum HistoryError: CodedError, Equatable {
    case notDecided(Height)
    case pruned(Height)

    public var code: String {
        switch self {
        case .notDecided: "history.not_decided"
        case .pruned: "history.pruned"
        }
    }

    public var message: String {
        switch self {
        case let .notDecided(height): "block \(height) is not decided yet"
        case let .pruned(height): "the state at block \(height) is no longer kept by this node (stateVersionsKept)"
        }
    }
}

/// The node stopped because continuing could be unsafe; the message says why.
public struct NodeFailure: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A version computed on top of a stored one and not saved: for checking that executing a block
/// again gives the version stored after it.
final class UnsavedVersionStore: TreeNodeStore {
    private let base: DiskTreeNodeStore
    private let baseVersion: UInt64

    init(_ base: DiskTreeNodeStore, on version: UInt64) {
        self.base = base
        baseVersion = version
    }

    func loadNode(_ key: NodeKey) throws -> TreeNode? { try base.loadNode(key) }
    func loadNode(_ key: NodeKey, namedBy reference: ChildReference) throws -> TreeNode? { try base.loadNode(key, namedBy: reference) }
    func loadRoot(version: UInt64) throws -> ChildReference?? { version == baseVersion ? try base.loadRoot(version: version) : nil }
    func latestVersion() -> UInt64? { baseVersion }
    func save(_ batch: TreeWriteBatch) {}
    func prune(keepingFrom version: UInt64) {}
}
