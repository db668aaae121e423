/// Counts failed logins per user name and per client address, and locks either after too many in a window.
/// Names are counted whether or not such a user exists, so a lock tells nothing about existence.
public actor LockoutTracker {
    struct Record {
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
    }

    private let maxFailures: Int
    private let window: Duration
    private let duration: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private var records: [String: Record] = [:]

    public init(maxFailures: Int, window: Duration, duration: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.maxFailures = maxFailures
        self.window = window
        self.duration = duration
        self.now = now
    }

    public static func userKey(_ user: String) -> String { "user:\(user)" }
    public static func addressKey(_ address: String) -> String { "address:\(address)" }

    public func isLocked(_ keys: [String]) -> Bool {
        let now = now()
        return keys.contains { key in records[key]?.lockedUntil.map { $0 > now } ?? false }
    }

    /// Returns how many of the keys this failure locked.
    @discardableResult
    public func recordFailure(_ keys: [String]) -> Int {
        let now = now()
        var locked = 0
        for key in keys {
            var record = records[key] ?? Record()
            record.failures = record.failures.filter { now - $0 < window } + [now]
            if record.failures.count >= maxFailures {
                record.lockedUntil = now + duration
                record.failures = []
                locked += 1
            }
            records[key] = record
        }
        forgetExpired(now: now)
        return locked
    }

    /// A successful login clears the name's count (not the address's, and not a running lock).
    public func recordSuccess(_ key: String) {
        records[key]?.failures = []
    }

    /// Keeps memory bounded under a flood of distinct names: drop records with nothing left to remember.
    private func forgetExpired(now: ContinuousClock.Instant) {
        guard records.count > 10_000 else { return }
        records = records.filter { _, record in
            (record.lockedUntil.map { $0 > now } ?? false) || record.failures.contains { now - $0 < window }
        }
    }
}
