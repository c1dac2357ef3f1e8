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
    }

    static let keysMax = 100_000
    private let buckets = Mutex<[String: Bucket]>([:])

    /// Spends one request of `key`'s budget; nil when allowed, else the seconds to wait.
    func spend(_ key: String, _ budget: Budget, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: budget.burst, at: now)
            bucket.tokens = min(budget.burst, bucket.tokens + seconds(from: bucket.at, to: now) * budget.rate)
            bucket.at = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return max(1, Int(((1 - bucket.tokens) / budget.rate).rounded(.up)))
            }
            bucket.tokens -= 1
            buckets[key] = bucket
            if buckets.count > Self.keysMax {
                buckets = buckets.filter { $0.value.tokens + seconds(from: $0.value.at, to: now) * budget.rate < budget.burst }
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

    /// Records a wrong code; returns the lock it caused, in seconds (nil while attempts are free).
    func failed(_ property: String, now: ContinuousClock.Instant = .now) -> Int? {
        failures.withLock { failures in
            if failures.count >= Self.propertiesMax { failures = failures.filter { $0.value.lockedUntil > now } }
            var entry = failures[property] ?? Failures(count: 0, lockedUntil: now)
            entry.count += 1
            var lock: Int?
            if entry.count >= Self.freeAttempts {
                let doublings = min(entry.count - Self.freeAttempts, 20)
                lock = min(Self.lockSecondsMax, Self.firstLockSeconds << doublings)
                entry.lockedUntil = now + .seconds(lock ?? 0)
            }
            failures[property] = entry
            return lock
        }
    }

    func succeeded(_ property: String) {
        _ = failures.withLock { $0.removeValue(forKey: property) }
    }
}
