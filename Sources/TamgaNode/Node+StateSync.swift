import Foundation
import Logging
import Synchronization
import TamgaConsensus
import TamgaCore
import TamgaLedger
import TamgaNetwork
import TamgaStorage

/// A state being fetched from peers, and what of it is verified: the anchor block (its commit
/// checked against the validators), the snapshot's top (checked against the anchor's state root),
/// and the prefixes whose records arrived (each checked against its entry of the top). Nothing
/// unverified is kept; the nodes of each prefix's subtree are written as it arrives, and the few
/// nodes above the prefixes (and the single records, which rise to where they have no sibling)
/// once every prefix is in, placed by what the records themselves showed.
struct StateSyncProgress {
    /// The block whose header names the state fetched: version `version` is the state after the
    /// block before it.
    let anchor: (block: Block, commit: Commit)
    var version: UInt64 { anchor.block.header.height.rawValue }
    private(set) var top: [StateSnapshot.Summary]?
    /// Each prefix as its verified records make it.
    private var verified: [StateSnapshot.Summary] = []
    /// The prefixes that hold one record, with it.
    private var single: [Int: StateSnapshot.Record] = [:]
    /// Prefixes whose records are still to come (known once the top is).
    private(set) var missing: Set<Int> = []

    init(anchor: (block: Block, commit: Commit)) { self.anchor = anchor }

    var isComplete: Bool { top != nil && missing.isEmpty }

    /// Takes a top whose root is the anchor's state root (the first that verifies).
    mutating func accept(top candidate: [StateSnapshot.Summary]) throws(SnapshotError) {
        let expected = anchor.block.header.stateRoot
        let found = try StateSnapshot.root(of: candidate)
        guard found == expected else { throw .rootMismatch(expected: expected, found: found) }
        guard top == nil else { return }
        top = candidate
        verified = candidate
        missing = Set(candidate.indices.filter { candidate[$0] != .empty })
    }

    /// Takes the records of consecutive prefixes from `first`, all of them or none: each group
    /// must hash to what the verified top names for its prefix. Returns the nodes of the prefixes'
    /// subtrees and the records of the prefixes taken now (not of those taken before).
    mutating func accept(records groups: [[StateSnapshot.Record]], from first: Int) throws(SnapshotError)
        -> (nodes: [(key: NodeKey, node: TreeNode)], records: [StateSnapshot.Record]) {
        guard let top else { return ([], []) }
        var summaries: [StateSnapshot.Summary] = []
        for (offset, records) in groups.enumerated() {
            let prefix = first + offset
            guard prefix < top.count else { throw .prefixMismatch(prefix: prefix) }
            let summary = try StateSnapshot.summary(of: records, prefix: prefix)
            guard summary.hash == top[prefix].hash else { throw .prefixMismatch(prefix: prefix) }
            summaries.append(summary)
        }
        var nodes: [(key: NodeKey, node: TreeNode)] = []
        var taken: [StateSnapshot.Record] = []
        for (offset, records) in groups.enumerated() where missing.remove(first + offset) != nil {
            let prefix = first + offset
            taken += records
            verified[prefix] = summaries[offset]
            switch summaries[offset] {
            case .empty: break
            case .leaf: single[prefix] = records[0]
            case .subtree: _ = StateSnapshot.subtree(of: records[...], at: StateSnapshot.path(of: prefix), version: version, into: &nodes)
            }
        }
        return (nodes, taken)
    }

    /// Once complete: the nodes above the prefixes and the single records, and the root.
    func finalNodes() throws(SnapshotError) -> (root: ChildReference?, nodes: [(key: NodeKey, node: TreeNode)]) {
        let expected = anchor.block.header.stateRoot
        let found = try StateSnapshot.root(of: verified)
        guard isComplete, found == expected else { throw .rootMismatch(expected: expected, found: found) }
        let built = StateSnapshot.topNodes(of: verified, version: version)
        var nodes = built.nodes
        for (prefix, record) in single {
            guard let path = built.leafPaths[prefix] else { continue }
            nodes.append((NodeKey(version: version, path: path), .leaf(keyHash: record.keyHash, value: record.value)))
        }
        return (built.root, nodes)
    }
}

/// Where a node that joins by state sync stands.
struct StateSyncState {
    /// The validator sets since genesis, once a peer's handovers verified: the anchor is checked
    /// against the set of its height.
    var sets: [NodeStore.ScheduledValidators]?
    /// The peer whose handovers are taken: distrusted if they turn out to leave out a change.
    var handoversFrom: ValidatorIndex?
    /// Its handovers so far, taken a page at a time, each page checked on arrival, and the
    /// schedule they lead to.
    var handovers: [ValidatorHandover] = []
    var handoverSchedule: ValidatorSchedule?
    var progress: StateSyncProgress?
    /// Pledges the fetched records show waiting for review, with when each was proposed: the review
    /// list's candidates, stored oldest first once the sync is done (listings and open deeds are
    /// indexed as they arrive).
    var pledgesUnderReview: [TransactionID: Timestamp] = [:]
    /// Requests out to peers: which prefix each asked from (nil for the anchor block or the top),
    /// the anchor's height when it is the anchor, and when.
    var requested: [ValidatorIndex: (prefix: Int?, height: Height?, at: ContinuousClock.Instant)] = [:]
    /// Prefixes asked of some peer and not yet answered.
    var inFlight: Set<Int> = []
    var started = ContinuousClock.now
    /// When a piece (or the anchor) was last accepted.
    var lastProgress = ContinuousClock.now
}

extension Node {
    /// The validator-set changes a joining node takes at most: one a week for nearly two centuries.
    static let handoversMax = 10_000
    /// Prefixes asked of one peer at a time.
    static let snapshotPrefixesPerRequest = 256
    /// How long a peer has to answer a state-sync request before it is asked no more for a while.
    static let snapshotAnswerSeconds = 10
    /// With no piece accepted for this long (the peers may no longer keep the anchor's state),
    /// state sync starts again from a newer anchor.
    static let snapshotStallSeconds = 60
    /// How long a joining node hears its peers' heights before it picks the block to join at.
    static let claimSettlingTime = Duration.seconds(1)

    /// One step of state sync, every 100 ms until done: asks a peer for what is missing (the anchor
    /// block, the top, or prefixes not yet asked), forgets requests that timed out (their peer is
    /// asked no more for a while, and what it was asked goes to another), and finishes once
    /// everything is verified.
    func stepStateSync() throws {
        guard var sync = stateSync else { return }
        let now = ContinuousClock.now
        if sync.progress != nil, sync.lastProgress.duration(to: now) > .seconds(Node.snapshotStallSeconds) {
            logger.notice("state sync: no progress for a minute; starting again from a newer block")
            try store.discardUnfinishedSnapshot()
            try tree.refreshLatest()
            stateSync = StateSyncState()
            return
        }
        for (peer, request) in sync.requested where request.at.duration(to: now) > .seconds(Node.snapshotAnswerSeconds) {
            sync.requested[peer] = nil
            if let prefix = request.prefix { sync.inFlight.subtract(prefix..<prefix + Node.snapshotPrefixesPerRequest) }
            distrust(peer)
        }
        let peers = peerHeights.filter { $0.value.at.duration(to: now) < .seconds(Node.claimLifetimeSeconds) && (unreliableUntil[$0.key] ?? now) <= now }
            .keys.filter { sync.requested[$0] == nil }.sorted()
        if let progress = sync.progress, progress.isComplete {
            stateSync = sync
            try finishStateSync(progress)
            return
        }
        defer { stateSync = sync }
        guard sync.sets != nil else {
            guard sync.requested.isEmpty else { return }
            // The next page from the peer whose pages were taken so far; if it is no longer asked
            // (it stalled or lied), the peer furthest ahead, which knows the most changes, from the start.
            if let source = sync.handoversFrom, !peers.contains(source) {
                (sync.handoversFrom, sync.handovers, sync.handoverSchedule) = (nil, [], nil)
            }
            guard let peer = sync.handoversFrom ?? peers.max(by: { (peerHeights[$0]?.height ?? Height(0), $1) < (peerHeights[$1]?.height ?? Height(0), $0) })
            else { return }
            sync.requested[peer] = (nil, nil, now)
            network.send(.handoversRequest(from: UInt32(sync.handovers.count)), to: peer)
            return
        }
        guard let progress = sync.progress else {
            // The anchor: a recent block that more than a third of the power has passed, so its state is kept by honest peers.
            // Not in the first second: a peer's first status messages may be ones it queued before
            // this node listened, some blocks old, and the next tick's replace them.
            let target = networkHeight.rawValue
            guard sync.started.duration(to: now) >= Node.claimSettlingTime, target >= 2, sync.requested.isEmpty, let peer = peers.first(where: { (peerHeights[$0]?.height.rawValue ?? 0) >= target - 1 }) else { return }
            sync.requested[peer] = (nil, Height(target - 1), now)
            asked[peer] = (Height(target - 1), now)
            network.send(.blocksRequest(from: Height(target - 1), count: 1), to: peer)
            return
        }
        if progress.top == nil {
            guard sync.requested.isEmpty, let peer = peers.first else { return }
            sync.requested[peer] = (nil, nil, now)
            network.send(.snapshotTopRequest(version: progress.version), to: peer)
            return
        }
        var waiting = progress.missing.subtracting(sync.inFlight).sorted()[...]
        for peer in peers {
            guard let first = waiting.first else { break }
            let count = min(Node.snapshotPrefixesPerRequest, StateSnapshot.prefixCount - first)
            sync.requested[peer] = (first, nil, now)
            sync.inFlight.formUnion(first..<first + count)
            waiting = waiting.drop { $0 < first + count }
            network.send(.snapshotRequest(version: progress.version, prefix: UInt16(first), count: UInt16(count)), to: peer)
        }
    }

    /// A page of a peer's validator-set changes since genesis: taken if each verifies against the
    /// set before it; an empty page ends the list. A peer that leaves out the latest changes is
    /// found out by the anchor (whose commit then does not verify) or by the anchor's state (which
    /// names the set of the next height).
    func acceptHandovers(_ page: [PeerMessage.Handover], from first: Int, peer: ValidatorIndex) -> PeerVerdict {
        guard var sync = stateSync, sync.sets == nil, sync.requested.removeValue(forKey: peer) != nil else { return .accepted }
        defer { stateSync = sync }
        // A page from elsewhere than asked, or past the most any chain could need (only keys of a
        // set no longer in force could sign an endless list), discards what this peer sent; the
        // list is asked of another from the start.
        func refuse(_ reason: String) -> PeerVerdict {
            (sync.handoversFrom, sync.handovers, sync.handoverSchedule) = (nil, [], nil)
            distrust(peer)
            return .misbehaving(reason)
        }
        guard first == sync.handovers.count, sync.handoversFrom == nil || sync.handoversFrom == peer else {
            return refuse("sent validator handovers from another place than asked")
        }
        guard sync.handovers.count + page.count <= Node.handoversMax else {
            return refuse("sent more than \(Node.handoversMax) validator handovers")
        }
        let proofs = page.map { ValidatorHandover(header: $0.header, commit: $0.commit, record: $0.record, proof: $0.proof) }
        do {
            let genesisSet = try genesis.validatorSet()
            var schedule = sync.handoverSchedule ?? ValidatorSchedule(genesis: genesisSet)
            try ValidatorHandover.follow(proofs, continuing: &schedule, chain: genesis.chainID)
            (sync.handoversFrom, sync.handoverSchedule, sync.lastProgress) = (peer, schedule, .now)
            sync.handovers += proofs
            guard proofs.isEmpty else { return .accepted }
            let sets = ValidatorSets.learnt(from: sync.handovers, schedule: schedule)
            validatorSets.withLock { $0.replaceLearnt(with: sets) }
            sync.sets = sets
            return .accepted
        } catch let error as ValidatorHandover.Failure {
            return refuse("sent validator handovers that do not verify: \(error.message)")
        } catch {
            stop("the genesis validator set does not load: \(error)")
            return .accepted
        }
    }

    /// Answers a peer's request for the validator-set changes since genesis, from the `first`-th
    /// on: as many as fit in one message (none past the last).
    func serveHandovers(from first: Int, to peer: ValidatorIndex) {
        guard stateSync == nil else { return }
        var page: [PeerMessage.Handover] = []
        var bytes = 0
        for handover in validatorHandovers.dropFirst(first) {
            guard page.count < PeerMessage.handoversPerMessageMax, let parts = try? handover.parts() else { break }
            let message = PeerMessage.Handover(header: parts.header, commit: parts.commit, record: parts.record, proof: parts.proof)
            let size = message.encodedSize
            if !page.isEmpty, bytes + size > handoverPageBytes { break }
            page.append(message)
            bytes += size
        }
        handoverPagesServed += 1
        network.send(.handovers(from: UInt32(clamping: first), page), to: peer)
    }

    /// The anchor block a peer sent: taken if its commit verifies against the validators of its
    /// height (as the handovers lead to them).
    func acceptStateSyncAnchor(_ decided: [PeerMessage.DecidedBlock], from peer: ValidatorIndex) -> PeerVerdict {
        guard var sync = stateSync, sync.progress == nil, let request = sync.requested.removeValue(forKey: peer) else { return .accepted }
        defer { stateSync = sync }
        guard request.prefix == nil, let item = decided.first else { return .accepted }
        let header = item.block.header
        do {
            guard header.chainID == genesis.chainID, header.height == request.height, item.commit.blockHash == item.block.hash else {
                return .misbehaving("sent an anchor block of another chain or height, or with another block's commit")
            }
            // The commit signs the header; the header must name this body, or a peer could pair a
            // signed header with transactions of its own.
            guard header.transactionsRoot == Block.transactionsRoot(item.block.transactions),
                  header.evidenceRoot == Block.evidenceRoot(item.block.evidence),
                  header.lastCommitHash == (item.block.lastCommit?.hash ?? .zero),
                  item.block.transactions.count <= Limits.blockTransactionsMax
            else { return .misbehaving("sent an anchor block whose body is not the one its header names") }
            try item.commit.verify(blockHash: item.block.hash, height: item.block.header.height, chainID: genesis.chainID,
                                   validators: validators(at: item.block.header.height))
        } catch {
            // Either this peer lies, or the one whose handovers were taken left out a change:
            // ask for them again, of another peer.
            sync.sets = nil
            if let source = sync.handoversFrom { distrust(source) }
            distrust(peer)
            return .misbehaving("sent an anchor block whose commit does not verify against the validators of its height: \(error)")
        }
        // The sets after the anchor's next height are the node's to learn by executing the chain;
        // one a peer named for later could only disagree with what the chain decides.
        if let sets = sync.sets?.filter({ $0.from <= header.height.next }) {
            sync.sets = sets
            validatorSets.withLock { $0.replaceLearnt(with: sets) }
        }
        sync.progress = StateSyncProgress(anchor: (item.block, item.commit))
        sync.lastProgress = .now
        logger.info("state sync: fetching the state of block \(item.block.header.height)", metadata: ["peer": "\(peer)", "stateRoot": "\(item.block.header.stateRoot)"])
        return .accepted
    }

    /// A snapshot's top or records a peer sent: written if they verify; a peer that sent a piece
    /// that does not is disconnected and refused for a while, and the piece is asked of another.
    func acceptSnapshotMessage(_ message: PeerMessage, from peer: ValidatorIndex) -> PeerVerdict {
        guard var sync = stateSync, var progress = sync.progress, let request = sync.requested.removeValue(forKey: peer) else { return .accepted }
        if let prefix = request.prefix { sync.inFlight.subtract(prefix..<prefix + Node.snapshotPrefixesPerRequest) }
        defer { stateSync = sync }
        do {
            switch message {
            case let .snapshotTop(version, top) where version == progress.version && request.prefix == nil:
                try progress.accept(top: top)
            case let .snapshotRecords(version, first, groups) where version == progress.version && request.prefix == Int(first):
                guard !groups.isEmpty else { return .misbehaving("answered a snapshot request with no records") }
                let (nodes, records) = try progress.accept(records: groups, from: Int(first))
                if !nodes.isEmpty { try store.writeSnapshotNodes(nodes) }
                try index(records, into: &sync)
            default:
                return .accepted
            }
            sync.progress = progress
            sync.lastProgress = .now
            return .accepted
        } catch let error as SnapshotError {
            distrust(peer)
            return .misbehaving("sent a snapshot piece that does not verify: \(error.message)")
        } catch {
            stop("could not store the state fetched from peers: \(error)")
            return .accepted
        }
    }

    /// Indexes verified records as other nodes index the blocks that wrote them: listings for the
    /// offers list and open deeds by party at once, pledges awaiting review once the sync is done
    /// (they are placed oldest first).
    private func index(_ records: [StateSnapshot.Record], into sync: inout StateSyncState) throws {
        var listed: [String] = []
        var deeds: [(party: String, deed: TransactionID)] = []
        for record in records {
            switch IndexedRecord(keyHash: record.keyHash, value: record.value) {
            case let .listing(number): listed.append(number.rawValue)
            case let .pledgeUnderReview(pledge): sync.pledgesUnderReview[pledge.id] = pledge.createdAt
            case let .openDeed(deed): deeds += deed.parties.map { ($0.rawValue, deed.id) }
            case nil: break
            }
        }
        try store.addSnapshotCandidates(listed: listed, pledges: [], deeds: deeds)
    }

    /// Everything verified: names the root, executes the anchor block on the fetched state, stores
    /// it, and joins the chain after it.
    private func finishStateSync(_ progress: StateSyncProgress) throws {
        let block = progress.anchor.block
        let (root, nodes) = try progress.finalNodes()
        try store.writeSnapshotNodes(nodes)
        try store.finishSnapshot(version: progress.version, root: root, baseHeight: block.header.height)
        try tree.refreshLatest()
        try map.checkRoot(version: progress.version)
        // The anchor's state names the set of the height after it: the handovers taken must agree,
        // or the peer that sent them left out the latest change.
        let expected = try map.value(forKey: RecordKey.validators, at: progress.version).map(ValidatorHandover.set(inRecord:))
            ?? genesis.validatorSet()
        guard expected == validators(at: block.header.height.next) else {
            logger.notice("state sync: the validator handovers taken leave out a change the state names; starting again")
            if let source = stateSync?.handoversFrom { distrust(source) }
            try store.discardUnfinishedSnapshot()
            try tree.refreshLatest()
            stateSync = StateSyncState()
            return
        }
        try store.saveValidatorSets(stateSync?.sets ?? [])
        let pledges = (stateSync?.pledgesUnderReview ?? [:]).map { (createdAt: $0.value, id: $0.key.description, pledge: $0.key) }
            .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        try store.addSnapshotCandidates(listed: [], pledges: pledges.map(\.pledge), deeds: [])
        height = Height(progress.version - 1)
        stateRoot = block.header.stateRoot
        try commitBlock(block, commit: progress.anchor.commit)
        let seconds = (stateSync?.started ?? .now).duration(to: .now)
        stateSync = nil
        logger.info("state sync: done; following the chain", metadata: ["height": "\(height)", "seconds": "\(seconds)"])
        consensus = consensusForNextHeight(resumingFrom: [])
        handle(.start)
    }

    /// Snapshot answers one peer may have at once, and how many more it earns a second. A joining
    /// node asks a peer for 256 prefixes at a time and waits for the answer (up to 8 MiB), so a
    /// whole state of 4,096 prefixes takes 17 answers; past the budget a peer's requests go
    /// unanswered, so that no peer holds this node's reads.
    static let snapshotAnswerBudget = (burst: 32.0, perSecond: 4.0)

    /// Takes one snapshot answer from `peer`'s budget, if it has one left.
    func spendSnapshotAnswer(for peer: ValidatorIndex) -> Bool {
        let now = ContinuousClock.now
        let (burst, perSecond) = Node.snapshotAnswerBudget
        let last = snapshotBudgets[peer] ?? (burst, now)
        let elapsed = last.at.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let tokens = min(burst, last.tokens + seconds * perSecond)
        guard tokens >= 1 else {
            snapshotBudgets[peer] = (tokens, now)
            return false
        }
        snapshotBudgets[peer] = (tokens - 1, now)
        return true
    }

    /// Answers a peer's request for the top of a kept state version (nothing for one not kept).
    func serveSnapshotTop(version: UInt64, to peer: ValidatorIndex) throws {
        guard stateSync == nil, try tree.loadRoot(version: version) != nil else { return }
        send(snapshotAnswer: .snapshotTop(version: version, try map.snapshotTop(at: version)), to: peer)
    }

    /// Answers a peer's request for prefixes' records: as many whole prefixes as fit in
    /// `PeerMessage.snapshotBytesMax`, at least the first.
    func serveSnapshotRecords(version: UInt64, prefix: UInt16, count: UInt16, to peer: ValidatorIndex) throws {
        guard stateSync == nil, try tree.loadRoot(version: version) != nil else { return }
        var groups: [[StateSnapshot.Record]] = []
        var bytes = 0
        for current in Int(prefix)..<Int(prefix) + Int(count) {
            let records = try map.snapshotRecords(prefix: current, at: version)
            let size = records.reduce(0) { $0 + 36 + $1.value.count }
            if !groups.isEmpty, bytes + size > PeerMessage.snapshotBytesMax { break }
            groups.append(records)
            bytes += size
        }
        send(snapshotAnswer: .snapshotRecords(version: version, prefix: prefix, groups), to: peer)
    }

    private func send(snapshotAnswer answer: PeerMessage, to peer: ValidatorIndex) {
        network.send(snapshotAnswerTamper?(answer) ?? answer, to: peer)
    }

    /// Makes the pages of handovers this node serves smaller (`handoverPageBytes`), for a test.
    func limitHandoverPages(toBytes bytes: Int) { handoverPageBytes = bytes }

    /// Makes this node a lying peer for a test (`snapshotAnswerTamper`).
    func tamperWithSnapshotAnswers(_ tamper: @escaping @Sendable (PeerMessage) -> PeerMessage) {
        snapshotAnswerTamper = tamper
    }
}
