import TamgaConsensus
import TamgaCore

/// The faults a simulation injects. Every choice is drawn from one seeded generator, so a seed
/// replays a run exactly.
public struct SimulationOptions: Sendable {
    public var seed: UInt64
    public var validators: Int
    /// Replicas that equivocate: different proposals and votes to different peers.
    public var byzantine: Int
    /// Honest replicas that may be down at the same time (crashed, later restarted from what they persisted).
    public var crashes: Int
    /// Heights every honest replica must decide after the network heals.
    public var heightsAfterHealing: Int = 2
    /// Milliseconds of faults (drops, duplicates, reordering, partitions, crashes) before healing.
    public var faultyMillis: UInt64 = 6_000
    /// Milliseconds after healing within which every honest replica must decide `heightsAfterHealing` more heights.
    public var progressDeadlineMillis: UInt64 = 60_000

    public init(seed: UInt64, validators: Int, byzantine: Int, crashes: Int) {
        self.seed = seed
        self.validators = validators
        self.byzantine = byzantine
        self.crashes = crashes
    }
}

/// What a run showed. `violations` is empty for a correct run.
public struct SimulationReport: Sendable, CustomStringConvertible {
    public let options: SimulationOptions
    public var violations: [String] = []
    /// The lowest height every honest replica reached.
    public var decidedHeights = 0
    public var messagesDelivered = 0
    public var simulatedMillis: UInt64 = 0

    public var description: String {
        let verdict = violations.isEmpty ? "ok" : "VIOLATION: " + violations.joined(separator: "; ")
        return "seed \(options.seed) (n=\(options.validators), byzantine=\(options.byzantine), crashes=\(options.crashes)): "
            + "\(decidedHeights) heights, \(messagesDelivered) messages, \(simulatedMillis) ms simulated — \(verdict). "
            + "Replay with TAMGA_SEED=\(options.seed)"
    }
}

/// Runs one simulated cluster: N replicas on one thread with a simulated clock and network.
public func simulate(_ options: SimulationOptions) -> SimulationReport {
    var cluster = Cluster(options)
    cluster.run()
    return cluster.report
}

/// A message on the simulated wire.
enum WireMessage {
    case proposal(SignedProposal, Block)
    case vote(SignedVote)
    /// A decided block sent to a peer that is behind: the proposal, the block and its commit.
    case decided(DecidedBlock)
}

struct DecidedBlock {
    let block: Block
    let proposal: SignedProposal
    let commit: Commit
}

enum SimulationEvent {
    case deliver(to: Int, from: Int, WireMessage)
    case timeout(replica: Int, incarnation: Int, Timeout)
    case gossip(replica: Int)
    case crash(replica: Int)
    case restart(replica: Int)
}

/// One honest replica: the real consensus state machine plus what it persisted.
struct Replica {
    let index: Int
    let key: SigningKey
    var isUp = true
    var incarnation = 0
    var consensus: ConsensusState
    /// Survives a crash.
    /// Survives a crash: the signing records since the last decided height (a write-ahead log).
    var persisted: [SigningRecord] = []
    /// Survives a crash.
    var chain: [DecidedBlock] = []
    /// Survives a crash: the block of the last proposal this replica signed, saved with it.
    var persistedBlock: Block?
    /// Blocks seen for undecided heights; lost on a crash.
    var blocks: [Hash: Block] = [:]
    /// Blocks the state machine asked about that have not arrived yet; lost on a crash.
    var awaitingBlocks: Set<Hash> = []
}
