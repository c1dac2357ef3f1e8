import ArgumentParser
import Foundation
import TamgaSimulation

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
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
        var seedList = Array(firstSeed..<firstSeed + UInt64(seeds))
        if let replay = ProcessInfo.processInfo.environment["TAMGA_SEED"], let seed = UInt64(replay) { seedList = [seed] }
        let clock = ContinuousClock()
        let start = clock.now
        var failures = 0
        var heights = 0
        func summary(_ count: Int) -> String {
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return "\(count) seeds, \(failures) failed, \(heights) heights decided, \(String(format: "%.1f", seconds)) s"
        }
        for (offset, seed) in seedList.enumerated() {
            let report = simulate(SimulationOptions(seed: seed, validators: validators, byzantine: byzantine ?? f, crashes: crashes ?? f))
            heights += report.decidedHeights
            if !report.violations.isEmpty { failures += 1 }
            if verbose || !report.violations.isEmpty { print(report) }
            if (offset + 1) % 5_000 == 0, offset + 1 < seedList.count {
                print("… " + summary(offset + 1))
                FileHandle.standardOutput.synchronizeFile()
            }
        }
        print(summary(seedList.count))
        if failures > 0 { throw ExitCode.failure }
    }
}
