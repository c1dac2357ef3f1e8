import Testing
@testable import tamga

/// The network bench's pacing: held transactions keep each sender's order, and reservations
/// respect the per-sender limit and the round's budget.
@Suite struct BenchPacingTests {
    final class Sender {}
    /// Kept alive for the test, so that their identifiers stay distinct.
    let senders = [Sender(), Sender()]

    @Test func heldTransactionsLeaveInOrderPerSender() {
        let first = ObjectIdentifier(senders[0]), second = ObjectIdentifier(senders[1])
        var held = HeldTransactions()
        for index in [3, 5, 8] { held.hold(index, of: first) }
        held.hold(4, of: second)
        #expect(held.senders == [first, second] && held.total == 4)
        #expect(held.release(2, of: first) == [3, 5])
        #expect(held.count(of: first) == 1 && held.total == 2)
        #expect(held.release(0, of: second).isEmpty)
        #expect(held.release(5, of: second) == [4])
        #expect(held.senders == [first] && held.count(of: second) == 0)
        #expect(held.release(1, of: first) == [8])
        #expect(held.isEmpty && held.senders.isEmpty)
    }

    @Test func reservationsStopAtTheSenderLimitAndTheBudget() async {
        let run = LoadRun(clients: [])
        let first = ObjectIdentifier(senders[0]), second = ObjectIdentifier(senders[1])
        let limit = LoadRun.waitingPerSenderMax
        #expect(await run.reserve([(first, limit - 2)], total: 1_000) == [limit - 2])
        // The first sender has room for 2 more; the budget of 5 leaves 3 for the second.
        #expect(await run.reserve([(first, 10), (second, 10)], total: 5) == [2, 3])
        #expect(await run.reserve([(first, 1), (second, 100)], total: 1_000) == [0, limit - 3])
    }
}
