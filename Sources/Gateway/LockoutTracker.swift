import GatewayConfig

/// The guessing budget of user names, trusted devices and client addresses. Each decision is one call on
/// this actor, so concurrent attempts cannot overshoot it: an attempt takes a slot of the budget when it is
/// admitted and gives it back only on success. After `per_user` failures in a window, no further guess for
/// that name reaches PAM however the guesses are timed. Names are counted whether or not such a user
/// exists, so a lock tells nothing about existence.
public actor LockoutTracker {
    public enum Key: Hashable, Sendable, CustomStringConvertible {
        case user(String)
        case address(String)
        /// A browser or `consolegate login` client that has signed in as its user before (OWASP device cookies).
        case device(String)

        public var description: String {
            switch self {
            case .user(let name): "user:\(name)"
            case .address(let address): "address:\(address)"
            case .device(let id): "device:\(id)"
            }
        }
    }

    /// An admitted attempt's hold on the budget; hand it back to `finish` exactly once.
    public struct Ticket: Sendable, Equatable {
        /// The keys whose budget this attempt spends: the trusted device or the user name, and the address.
        let budget: [Key]
        /// The keys whose concurrency this attempt occupies: the user name and the address.
        let inFlight: [Key]
    }

    public enum Admission: Sendable, Equatable {
        case admitted(Ticket)
        /// Locked after too many failures.
        case locked
        /// The budget is taken by attempts still running, or too many run at once for this name or address.
        case busy
    }

    struct Record {
        var failures: [ContinuousClock.Instant] = []
        /// Admitted attempts that have not finished: they may still fail, so they count against the budget.
        var pending = 0
        var inFlight = 0
        var lockedUntil: ContinuousClock.Instant?

        func isLocked(at now: ContinuousClock.Instant) -> Bool { lockedUntil.map { $0 > now } ?? false }
        var isIdle: Bool { pending == 0 && inFlight == 0 }
    }

    private let limits: LockoutSettings
    private let window: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private var records: [Key: Record] = [:]
    /// The size at which the next sweep runs; doubling keeps sweeps rare when most records must stay.
    private var sweepAt = 10_000

    public init(limits: LockoutSettings, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limits = limits
        self.window = limits.window
        self.now = now
    }

    private func failureLimit(_ key: Key) -> Int {
        if case .address = key { return limits.perAddress }
        return limits.perUser
    }

    private func inFlightLimit(_ key: Key) -> Int {
        if case .address = key { return limits.perAddressInFlight }
        return limits.perUserInFlight
    }

    /// Decides whether this attempt may run PAM, and if so takes its slots. `device` is the verified device
    /// id of a trusted client of this user: its guesses count against the device instead of the name, so a
    /// lock on the name imposed from elsewhere does not shut the user's own device out. A locked device is
    /// no longer trusted and shares the name's budget.
    public func admit(user: String, address: String, device: String? = nil) -> Admission {
        let now = now()
        forgetIdle(now: now)
        let trusted = device.map(Key.device).flatMap { records[$0]?.isLocked(at: now) == true ? nil : $0 }
        let budget = [trusted ?? .user(user), .address(address)]
        let inFlight: [Key] = [.user(user), .address(address)]
        for key in budget {
            var record = records[key] ?? Record()
            record.failures.removeAll { now - $0 >= window }
            records[key] = record
            if record.isLocked(at: now) { return .locked }
        }
        for key in inFlight where (records[key]?.inFlight ?? 0) >= inFlightLimit(key) { return .busy }
        for key in budget {
            let record = records[key]!
            if record.failures.count + record.pending >= failureLimit(key) { return .busy }
        }
        for key in budget { records[key, default: Record()].pending += 1 }
        for key in inFlight { records[key, default: Record()].inFlight += 1 }
        return .admitted(Ticket(budget: budget, inFlight: inFlight))
    }

    /// Gives the slots back. A failure is counted against every budget key and may lock it; a success clears
    /// the name's (or device's) failures, not the address's, and not a running lock. Returns how many keys
    /// this failure locked.
    @discardableResult
    public func finish(_ ticket: Ticket, succeeded: Bool) -> Int {
        let now = now()
        for key in ticket.inFlight { records[key, default: Record()].inFlight -= 1 }
        var locked = 0
        for key in ticket.budget {
            var record = records[key, default: Record()]
            record.pending -= 1
            if succeeded {
                if case .address = key {} else { record.failures = [] }
            } else {
                record.failures.append(now)
                if record.failures.count >= failureLimit(key) {
                    record.lockedUntil = now + limits.duration
                    record.failures = []
                    locked += 1
                }
            }
            records[key] = record
        }
        return locked
    }

    /// Gives the slots back without counting anything: the attempt never reached PAM.
    public func withdraw(_ ticket: Ticket) {
        for key in ticket.inFlight { records[key, default: Record()].inFlight -= 1 }
        for key in ticket.budget { records[key, default: Record()].pending -= 1 }
    }

    public func isLocked(_ key: Key) -> Bool {
        records[key]?.isLocked(at: now()) ?? false
    }

    /// For operators (`consolegate unlock`): forgets the key's failures and ends its lock. Returns whether
    /// there was anything to forget.
    @discardableResult
    public func unlock(_ key: Key) -> Bool {
        guard var record = records[key], record.isLocked(at: now()) || !record.failures.isEmpty else { return false }
        record.failures = []
        record.lockedUntil = nil
        records[key] = record
        return true
    }

    /// Keeps memory bounded under a flood of distinct names: drop records with nothing left to remember.
    private func forgetIdle(now: ContinuousClock.Instant) {
        guard records.count > sweepAt else { return }
        records = records.filter { _, record in
            !record.isIdle || record.isLocked(at: now) || record.failures.contains { now - $0 < window }
        }
        sweepAt = max(10_000, records.count * 2)
    }
}
