import PropertyBased
import TamgaLedger
import TamgaSimulation
import Testing

/// A CI-sized run of the ledger adversary (`tamga simulate ledger` runs the soak): random
/// sequences from every family, signed by random parties, with values at the extremes, and the
/// ledger's promises checked after every transaction (see `LedgerAdversary`).
@Suite struct AdversaryTests {
    @Test func randomAdversarialSequencesKeepEveryPromise() async {
        await propertyCheck(count: 40, input: Gen.int(in: 0...Int.max)) { seed in
            let report = try! LedgerAdversary.run(seed: UInt64(seed), steps: 60)
            #expect(report.violations.isEmpty, "\(report)")
            #expect(report.transactions == 60)
        }
    }

    @Test func theSameSeedGivesTheSameRun() throws {
        let first = try LedgerAdversary.run(seed: 42, steps: 80)
        let second = try LedgerAdversary.run(seed: 42, steps: 80)
        #expect(first.description == second.description)
        #expect(first.committed > 0 && first.committed < first.transactions, "the sequence should mix commits and refusals: \(first)")
    }
}
