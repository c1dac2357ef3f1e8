import ArgumentParser
import Foundation
import TamgaSimulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the consensus simulator or the ledger adversary over many seeds.",
        subcommands: [SimulateConsensusCommand.self, SimulateLedgerCommand.self],
        defaultSubcommand: SimulateConsensusCommand.self
    )
}

struct SimulateConsensusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consensus",
        abstract: "Run the consensus simulator over many seeds and check agreement, validity, signing and progress.",
        discussion: "Each seed runs a cluster with dropped, delayed, duplicated and reordered messages, partitions, crashes and equivocating validators. A failing seed is printed; TAMGA_SEED=<seed> replays exactly that one."
    )

    @Option(help: "How many seeds to run.")
    var seeds = 100

    @Option(help: "The first seed.")
    var firstSeed: UInt64 = 1

    @Option(help: "Validators per cluster (4 and 7 are the tested sizes).")
    var validators = 4

    @Option(help: "Byzantine validators; defaults to f = (n - 1) / 3.")
    var byzantine: Int?

    @Option(help: "Honest validators crashed and restarted during the faulty period; defaults to f.")
    var crashes: Int?

    @Flag(help: "Print every run, not only failures.")
    var verbose = false

    func validate() throws {
        guard seeds > 0, validators >= 1, validators <= 150 else { throw ValidationError("need at least one seed and 1 to 150 validators") }
    }

    func run() throws {
        let f = (validators - 1) / 3
        let seedList = seedsToRun(first: firstSeed, count: seeds)
        let clock = ContinuousClock()
        let start = clock.now
        var failures = 0
        var heights = 0
        func summary(_ count: Int) -> String {
            let elapsed = clock.now - start
            let seconds = elapsed.inSeconds
            return "\(count) seeds, \(failures) failed, \(heights) heights decided, \(String(format: "%.1f", seconds)) s"
        }
        for (offset, seed) in seedList.enumerated() {
            let report = simulate(SimulationOptions(seed: seed, validators: validators, byzantine: byzantine ?? f, crashes: crashes ?? f))
            heights += report.decidedHeights
            if !report.violations.isEmpty { failures += 1 }
            if verbose || !report.violations.isEmpty { print(report) }
            if (offset + 1) % 5_000 == 0, offset + 1 < seedList.count {
                print("… " + summary(offset + 1))
                fflush(nil)
            }
        }
        print(summary(seedList.count))
        if failures > 0 { throw ExitCode.failure }
    }
}

struct SimulateLedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Run random adversarial transaction sequences against the ledger and check its promises after every transaction.",
        discussion: "Each seed runs transactions from every family, signed by random parties (many without the right), with amounts, shares, times and parameters at the extremes. After each one: no trap, ownership moved only with every losing owner's signature or a court's order, supply = balances + holds + fees, shares whole, records within their limits, and a second execution with a node's cache gives the same root. A failing seed is printed; TAMGA_SEED=<seed> replays exactly that one."
    )

    @Option(help: "How many sequences (seeds) to run.")
    var seeds = 1_000

    @Option(help: "The first seed.")
    var firstSeed: UInt64 = 1

    @Option(help: "Transactions per sequence.")
    var steps = 60

    @Flag(help: "Print every run, not only failures.")
    var verbose = false

    func validate() throws {
        guard seeds > 0, steps > 0 else { throw ValidationError("need at least one seed and one step") }
    }

    func run() throws {
        let seedList = seedsToRun(first: firstSeed, count: seeds)
        let clock = ContinuousClock()
        let start = clock.now
        var failures = 0, transactions = 0, committed = 0, ownershipChanges = 0
        var rejections: [String: Int] = [:]
        func summary(_ count: Int) -> String {
            let elapsed = clock.now - start
            let seconds = elapsed.inSeconds
            return "\(count) sequences, \(failures) failed, \(transactions) transactions (\(committed) committed, \(ownershipChanges) ownership changes), \(String(format: "%.1f", seconds)) s"
        }
        for (offset, seed) in seedList.enumerated() {
            let report = try LedgerAdversary.run(seed: seed, steps: steps)
            transactions += report.transactions
            committed += report.committed
            ownershipChanges += report.ownershipChanges
            rejections.merge(report.rejections, uniquingKeysWith: +)
            if !report.violations.isEmpty { failures += 1 }
            if verbose || !report.violations.isEmpty { print(report) }
            if (offset + 1) % 10_000 == 0, offset + 1 < seedList.count {
                print("… " + summary(offset + 1))
                fflush(nil)
            }
        }
        print(summary(seedList.count))
        print("rejections by code: " + rejections.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if failures > 0 { throw ExitCode.failure }
    }
}

/// The seeds a simulation runs: `count` from `first`, or only `TAMGA_SEED` when it is set (to replay a failure).
private func seedsToRun(first: UInt64, count: Int) -> [UInt64] {
    if let replay = ProcessInfo.processInfo.environment["TAMGA_SEED"], let seed = UInt64(replay) { return [seed] }
    return Array(first..<first + UInt64(count))
}
