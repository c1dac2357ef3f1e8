import Foundation
import TamgaConsensus
import TamgaCore

/// The simulated world: replicas, a Byzantine adversary, a network and a clock.
/// `TAMGA_TRACE=<replica>` prints every event that replica handles, to follow a failing seed.
let traceReplica: Int? = ProcessInfo.processInfo.environment["TAMGA_TRACE"].flatMap { Int($0) }

struct Cluster {
    let options: SimulationOptions
    let chainID: ChainID
    let validators: ValidatorSet
    let keys: [SigningKey]
    let byzantine: Set<Int>
    let genesisTime = Timestamp(millisecondsSinceEpoch: 1_764_000_000_000)
    let timeouts = TimeoutConfig(proposeMillis: 400, prevoteMillis: 200, precommitMillis: 200, deltaMillisPerRound: 100)

    var random: SplitMix64
    var queue = EventQueue<SimulationEvent>()
    var now: UInt64 = 0
    var replicas: [Int: Replica] = [:]
    var report: SimulationReport
    var checker: SafetyChecker
    /// Partition groups while faulty: a message crosses only within a group.
    var partition: [Int: Int] = [:]
    var partitionEndsAt: UInt64 = 0
    var healed = false
    var heightAtHealing = 0
    /// What the Byzantine replicas have already done, so that each acts once per occasion.
    var adversaryActed: Set<AdversaryStep> = []

    init(_ options: SimulationOptions) {
        precondition(options.validators >= 1 && options.byzantine < options.validators)
        self.options = options
        random = SplitMix64(seed: options.seed)
        chainID = (try? ChainID("tamga-sim")) ?? { preconditionFailure() }()
        // Keys from the seed, so that signatures (and so every byte) replay exactly.
        keys = (0..<options.validators).map { index in
            var seedBytes = [UInt8](repeating: 0, count: 32)
            seedBytes[0] = UInt8(index)
            seedBytes[1] = 0x5a
            return (try? SigningKey(seed: seedBytes)) ?? { preconditionFailure() }()
        }
        validators = (try? ValidatorSet(keys.map { Validator(publicKey: $0.publicKey, votingPower: 1) })) ?? { preconditionFailure() }()
        var chooser = SplitMix64(seed: options.seed ^ 0xb7e1_5162_8aed_2a6a)
        var indices = Array(0..<options.validators)
        indices.shuffle(using: &chooser)
        byzantine = Set(indices.prefix(options.byzantine))
        report = SimulationReport(options: options)
        checker = SafetyChecker()
        for index in 0..<options.validators where !byzantine.contains(index) {
            replicas[index] = Replica(index: index, key: keys[index], consensus: makeConsensus(for: index, chain: [], persisted: []))
        }
    }

    var honest: [Int] { replicas.keys.sorted() }

    func makeConsensus(for index: Int, chain: [DecidedBlock], persisted: [SigningRecord]) -> ConsensusState {
        ConsensusState(
            chainID: chainID, height: Height(UInt64(chain.count + 1)), validators: validators,
            previousBlockTime: chain.last?.block.header.time ?? genesisTime, timeouts: timeouts,
            signingKey: keys[index], resumingFrom: persisted
        )
    }

    // MARK: Running

    mutating func run() {
        for index in honest {
            handle(index, .start)
            queue.push(at: UInt64(random.next() % 300), .gossip(replica: index))
        }
        scheduleFaults()
        let deadline = options.faultyMillis + options.progressDeadlineMillis
        while let (time, event) = queue.pop() {
            now = time
            if !healed && now >= options.faultyMillis { heal() }
            if now > deadline { break }
            process(event)
            if !checker.violations.isEmpty { break }
            if healed, minimumHeight >= heightAtHealing + options.heightsAfterHealing { break }
        }
        report.violations = checker.violations
        report.decidedHeights = minimumHeight
        report.simulatedMillis = now
        if report.violations.isEmpty, minimumHeight < heightAtHealing + options.heightsAfterHealing {
            report.violations.append("progress: after healing at \(options.faultyMillis) ms the honest replicas reached only height \(minimumHeight), not \(heightAtHealing + options.heightsAfterHealing), within \(options.progressDeadlineMillis) ms (\(replicaSummary))")
        }
    }

    /// Where each honest replica stands, for failure reports.
    var replicaSummary: String {
        honest.compactMap { index in
            replicas[index].map { replica in
                let state = replica.consensus
                return "replica \(index)\(replica.isUp ? "" : " down"): height \(state.height) round \(state.round) \(state.step)"
                    + (state.lockedRound.map { " locked in round \($0)" } ?? "")
            }
        }.joined(separator: ", ") + "; byzantine \(byzantine.sorted())"
    }

    var minimumHeight: Int { honest.map { replicas[$0]?.chain.count ?? 0 }.min() ?? 0 }

    mutating func scheduleFaults() {
        let crashCount = options.crashes
        guard crashCount > 0, options.faultyMillis > 2_000 else { return }
        // Crash `crashes` honest replicas at random times, each down for a while, all back before healing.
        var candidates = honest
        candidates.shuffle(using: &random)
        for index in candidates.prefix(crashCount) {
            let at = random.next() % (options.faultyMillis - 2_000)
            let downFor = 200 + random.next() % 3_000
            queue.push(at: at, .crash(replica: index))
            queue.push(at: min(at + downFor, options.faultyMillis - 1), .restart(replica: index))
        }
    }

    mutating func heal() {
        healed = true
        partition = [:]
        heightAtHealing = honest.map { replicas[$0]?.chain.count ?? 0 }.max() ?? 0
    }

    mutating func process(_ event: SimulationEvent) {
        switch event {
        case let .deliver(to, from, message):
            report.messagesDelivered += 1
            if byzantine.contains(to) {
                adversaryReceives(message)
            } else {
                receive(message, at: to, from: from)
            }
        case let .timeout(index, incarnation, timeout):
            guard replicas[index]?.isUp == true, replicas[index]?.incarnation == incarnation else { return }
            handle(index, .timeout(timeout))
        case let .gossip(index):
            queue.push(at: now + 500, .gossip(replica: index))
            guard let replica = replicas[index], replica.isUp else { return }
            for message in replica.consensus.gossip { send(message, from: index, blocks: replica.blocks) }
        case let .crash(index):
            guard var replica = replicas[index], replica.isUp else { return }
            replica.isUp = false
            replica.incarnation += 1
            replica.blocks = [:]
            replica.awaitingBlocks = []
            replicas[index] = replica
        case let .restart(index):
            guard var replica = replicas[index], !replica.isUp else { return }
            replica.isUp = true
            // Only what was persisted comes back: the chain and the signing records.
            replica.consensus = makeConsensus(for: index, chain: replica.chain, persisted: replica.persisted)
            if let block = replica.persistedBlock { replica.blocks[block.hash] = block }
            replicas[index] = replica
            handle(index, .start)
        }
    }

    // MARK: Honest replicas

    mutating func receive(_ message: WireMessage, at index: Int, from sender: Int) {
        guard let replica = replicas[index], replica.isUp else { return }
        let height = Height(UInt64(replica.chain.count + 1))
        switch message {
        case let .proposal(signed, block):
            if signed.proposal.height < height {
                helpCatchUp(sender, at: signed.proposal.height, from: index)
                return
            }
            if signed.proposal.height <= height.next, block.hash == signed.proposal.blockHash {
                learn(block, at: index)
            }
            handle(index, .proposal(signed))
        case let .vote(signed):
            if signed.vote.height < height {
                helpCatchUp(sender, at: signed.vote.height, from: index)
                return
            }
            handle(index, .vote(signed))
        case let .decided(decided):
            guard decided.proposal.proposal.height == height, decided.block.hash == decided.proposal.proposal.blockHash else { return }
            learn(decided.block, at: index)
            handle(index, .proposal(decided.proposal))
            for entry in decided.commit.signatures {
                let vote = decided.commit.precommit(for: entry, chainID: chainID)
                handle(index, .vote(SignedVote(vote: vote, signature: entry.signature)))
            }
        }
    }

    /// Keeps a block for later validation, and answers a validation that was waiting for it.
    mutating func learn(_ block: Block, at index: Int) {
        guard let replica = replicas[index], replica.blocks[block.hash] == nil else { return }
        replicas[index]?.blocks[block.hash] = block
        if replica.awaitingBlocks.contains(block.hash) {
            replicas[index]?.awaitingBlocks.remove(block.hash)
            let verdict = (try? tip(of: replica).validate(block)) != nil
            handle(index, .blockValidity(blockHash: block.hash, isValid: verdict))
        }
    }

    /// Block sync in miniature: a peer sent a message for a height this replica has decided.
    mutating func helpCatchUp(_ peer: Int, at height: Height, from index: Int) {
        guard let replica = replicas[index], Int(height.rawValue) <= replica.chain.count else { return }
        let decided = replica.chain[Int(height.rawValue) - 1]
        transmit(.decided(decided), from: index, to: peer)
    }

    mutating func handle(_ index: Int, _ event: ConsensusEvent) {
        guard var replica = replicas[index], replica.isUp else { return }
        if traceReplica == index { print("\(now) r\(index) h\(replica.consensus.height) r\(replica.consensus.round) \(replica.consensus.step): \(String(describing: event).prefix(160))") }
        let effects = replica.consensus.handle(event, now: Timestamp(millisecondsSinceEpoch: genesisTime.rawValue + now))
        replicas[index] = replica
        for effect in effects { carryOut(effect, at: index) }
    }

    mutating func carryOut(_ effect: ConsensusEffect, at index: Int) {
        guard let replica = replicas[index] else { return }
        switch effect {
        case let .persistThenBroadcast(record):
            // The log keeps this height's records, and the last record of earlier heights for the guard.
            let kept = replica.persisted.filter { $0.height == record.height }
            replicas[index]?.persisted = (kept.isEmpty ? Array(replica.persisted.suffix(1)) : kept) + [record]
            if case let .proposal(signed) = record.message { replicas[index]?.persistedBlock = replica.blocks[signed.proposal.blockHash] }
            checker.recordSignature(record.message, by: index)
            send(record.message, from: index, blocks: replica.blocks)
        case let .broadcast(message):
            send(message, from: index, blocks: replica.blocks)
        case let .scheduleTimeout(timeout, after):
            queue.push(at: now + after, .timeout(replica: index, incarnation: replica.incarnation, timeout))
        case let .validateBlock(_, _, hash):
            guard let block = replica.blocks[hash] else {
                replicas[index]?.awaitingBlocks.insert(hash)
                return
            }
            handle(index, .blockValidity(blockHash: hash, isValid: (try? tip(of: replica).validate(block)) != nil))
        case let .buildBlock(height, round):
            let block = buildBlock(on: replica.chain, height: height, round: round, variant: 0)
            replicas[index]?.blocks[block.hash] = block
            handle(index, .blockBuilt(height: height, round: round, blockHash: block.hash))
        case let .decide(height, _, hash, commit, proposal):
            guard let block = replica.blocks[hash] else {
                checker.violations.append("replica \(index) decided block \(hash) at height \(height) without having it")
                return
            }
            checker.recordDecision(height: height, hash: hash, block: block, proposal: proposal, commit: commit, by: index, tip: tip(of: replica), validators: validators)
            replicas[index]?.chain.append(DecidedBlock(block: block, proposal: proposal, commit: commit))
            replicas[index]?.blocks = replica.blocks.filter { $0.value.header.height > height }
            replicas[index]?.awaitingBlocks = []
            handle(index, .startHeight(height.next, validators: validators, previousBlockTime: block.header.time))
        case .evidence:
            break
        }
    }

    func tip(of replica: Replica) -> ChainTip {
        ChainTip(chainID: chainID, height: Height(UInt64(replica.chain.count + 1)), previousBlockHash: replica.chain.last?.block.hash ?? .zero,
                 previousValidators: replica.chain.isEmpty ? nil : validators, validators: validators, genesisTime: genesisTime)
    }

    /// A valid block on top of `chain`; `variant` changes its contents so that an equivocating
    /// proposer can make two different valid blocks.
    func buildBlock(on chain: [DecidedBlock], height: Height, round: Round, variant: UInt8) -> Block {
        let lastCommit = chain.last?.commit
        let time = lastCommit.map { BlockTime.weightedMedian(of: $0, validators: validators) } ?? genesisTime
        let header = BlockHeader(
            chainID: chainID, height: height, time: time, previousBlockHash: chain.last?.block.hash ?? .zero,
            lastCommitHash: lastCommit?.hash ?? .zero, transactionsRoot: Block.transactionsRoot([]), evidenceRoot: Block.evidenceRoot([]),
            stateRoot: .tagged(.stateLeaf, [variant] + Array(String(height.rawValue).utf8)), validatorSetHash: validators.hash,
            proposer: validators.proposer(height: height, round: round)
        )
        return Block(header: header, transactions: [], lastCommit: lastCommit)
    }

    // MARK: Network

    mutating func send(_ message: ConsensusMessage, from index: Int, blocks: [Hash: Block]) {
        let wire: WireMessage
        switch message {
        case let .proposal(signed):
            guard let block = blocks[signed.proposal.blockHash] else { return }
            wire = .proposal(signed, block)
        case let .vote(signed):
            wire = .vote(signed)
        }
        for peer in 0..<options.validators where peer != index { transmit(wire, from: index, to: peer) }
    }

    /// Puts a message on the wire: while faulty it may be dropped, duplicated, delayed or cut by a partition.
    mutating func transmit(_ message: WireMessage, from sender: Int, to receiver: Int) {
        if !healed {
            if now >= partitionEndsAt, random.next() % 1_000 < 2 { startPartition() }
            if now < partitionEndsAt, partition[sender] != partition[receiver] { return }
            if random.next() % 100 < 10 { return }
            let copies = random.next() % 100 < 5 ? 2 : 1
            for _ in 0..<copies { queue.push(at: now + 1 + random.next() % 150, .deliver(to: receiver, from: sender, message)) }
        } else {
            queue.push(at: now + 1 + random.next() % 20, .deliver(to: receiver, from: sender, message))
        }
    }

    mutating func startPartition() {
        partitionEndsAt = min(now + 500 + random.next() % 3_000, options.faultyMillis)
        partition = [:]
        for index in 0..<options.validators { partition[index] = Int(random.next() % 2) }
    }
}
