import Foundation
import Synchronization

/// Token buckets by key ("submit 127.0.0.1", "party citizen-1"): each key may spend `rate`
/// requests per second on average and `burst` at once. A request over budget is told how many
/// seconds until it would fit (for `Retry-After`). The table is bounded: when it passes
/// `keysMax`, buckets that have refilled completely (their clients are quiet) are forgotten,
/// and if that is not enough, the whole table is, which only ever errs towards letting a
/// request through.
final class RateLimiter: Sendable {
    struct Budget: Sendable {
        let rate: Double
        let burst: Double

        init(perSecond rate: Double, burstSeconds: Double) {
            self.rate = max(rate, 0.001)
            self.burst = max(1, rate * burstSeconds)
        }
    }

    private struct Bucket {
        var tokens: Double
        var at: ContinuousClock.Instant
        let budget: Budget

        func refilled(at now: ContinuousClock.Instant) -> Double { min(budget.burst, tokens + seconds(from: at, to: now) * budget.rate) }
    }

    static let keysMax = 100_000
    private let buckets = Mutex<[String: Bucket]>([:])

    /// Spends one request of `key`'s budget; nil when allowed, else the seconds to wait.
    func spend(_ key: String, _ budget: Budget, now: ContinuousClock.Instant = .now) -> Int? {
        take(key, budget, spending: true, now: now)
    }

    /// Whether `key` has a request left, without spending it; nil when it has.
    func check(_ key: String, _ budget: Budget, now: ContinuousClock.Instant = .now) -> Int? {
        take(key, budget, spending: false, now: now)
    }

    private func take(_ key: String, _ budget: Budget, spending: Bool, now: ContinuousClock.Instant) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: budget.burst, at: now, budget: budget)
            bucket.tokens = bucket.refilled(at: now)
            bucket.at = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return max(1, Int(((1 - bucket.tokens) / budget.rate).rounded(.up)))
            }
            guard spending else { return nil }
            bucket.tokens -= 1
            buckets[key] = bucket
            if buckets.count > Self.keysMax {
                // Each bucket judged by its own budget: only those that have refilled go.
                buckets = buckets.filter { $0.value.refilled(at: now) < $0.value.budget.burst }
                if buckets.count > Self.keysMax { buckets = [:] }
            }
            return nil
        }
    }
}

private func seconds(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) -> Double {
    let elapsed = start.duration(to: end).components
    return max(0, Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
}

/// Failed access-code attempts per property: after `freeAttempts` failures in a row, the
/// property's code is not checked at all for a while, doubling with each further failure
/// (one minute, two, four, … at most a day). A right code resets the count. Owners read
/// with a session, so a guesser can lock only the code's holders out, and only for that while.
final class AccessCodeGuard: Sendable {
    static let freeAttempts = 5
    static let firstLockSeconds = 60
    static let lockSecondsMax = 86_400
    static let propertiesMax = 100_000

    private struct Failures {
        var count: Int
        var lockedUntil: ContinuousClock.Instant
    }

    private let failures = Mutex<[String: Failures]>([:])

    /// Seconds until the property's code may be tried again; nil if it may be now.
    func lockedFor(_ property: String, now: ContinuousClock.Instant = .now) -> Int? {
        failures.withLock { failures in
            guard let entry = failures[property], entry.lockedUntil > now else { return nil }
            return max(1, Int(now.duration(to: entry.lockedUntil).components.seconds) + 1)
        }
    }

    /// Counts a try of the property's code before it is checked: nil if it may be checked now,
    /// else the seconds until one may. The try that reaches `freeAttempts` is still checked, and
    /// locks the code for the tries after it (a right code lifts the lock with `succeeded`).
    func reserve(_ property: String, now: ContinuousClock.Instant = .now) -> Int? {
        failures.withLock { failures in
            if let entry = failures[property], entry.lockedUntil > now {
                return max(1, Int(now.duration(to: entry.lockedUntil).components.seconds) + 1)
            }
            if failures.count >= Self.propertiesMax { failures = failures.filter { $0.value.lockedUntil > now } }
            var entry = failures[property] ?? Failures(count: 0, lockedUntil: now)
            entry.count += 1
            if entry.count >= Self.freeAttempts {
                let doublings = min(entry.count - Self.freeAttempts, 20)
                entry.lockedUntil = now + .seconds(min(Self.lockSecondsMax, Self.firstLockSeconds << doublings))
            }
            failures[property] = entry
            return nil
        }
    }

    func succeeded(_ property: String) {
        _ = failures.withLock { $0.removeValue(forKey: property) }
    }
}
