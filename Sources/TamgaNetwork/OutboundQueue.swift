import Synchronization

/// The frames waiting for one peer, bounded in bytes: a peer that stops reading makes the node
/// hold at most `bytesMax` for it (plus the newest frame), never more. When a frame does not fit,
/// the oldest frames go first; consensus sends its messages again while a height is stuck, and a
/// block request is asked again, so a dropped frame costs time, not safety.
final class OutboundQueue: Sendable {
    private struct State {
        var frames: [[UInt8]] = []
        var head = 0
        var bytes = 0
        var waiter: CheckedContinuation<[UInt8]?, Never>?

        mutating func popFirst() -> [UInt8]? {
            guard head < frames.count else { return nil }
            let frame = frames[head]
            frames[head] = []
            head += 1
            bytes -= frame.count
            if head > 1_024, head * 2 > frames.count {
                frames.removeFirst(head)
                head = 0
            }
            return frame
        }
    }

    let bytesMax: Int
    private let state = Mutex(State())

    init(bytesMax: Int) { self.bytesMax = bytesMax }

    /// Bytes waiting now.
    var queuedBytes: Int { state.withLock { $0.bytes } }

    /// Queues `frame`, or hands it straight to a waiting writer. Never blocks.
    func push(_ frame: [UInt8]) {
        let waiter: CheckedContinuation<[UInt8]?, Never>? = state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.frames.append(frame)
            state.bytes += frame.count
            while state.bytes > bytesMax, state.frames.count - state.head > 1 { _ = state.popFirst() }
            return nil
        }
        waiter?.resume(returning: frame)
    }

    /// The oldest waiting frame, waiting for one if there is none; nil once the task is cancelled.
    func next() async -> [UInt8]? {
        if let frame = state.withLock({ $0.popFirst() }) { return frame }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: [UInt8]?? = state.withLock { state in
                    if let frame = state.popFirst() { return .some(frame) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
