import Foundation
import GatewayConfig

/// The state of a gateway that runs as one process (`state.backend: memory`, the default). Each decision is
/// one call on this actor, so concurrent attempts cannot overshoot the budget: an attempt takes a slot when
/// it is admitted and gives it back only on success. After `per_user` failures in a window, no further
/// guess for that name reaches PAM however the guesses are timed. Names are counted whether or not such a
/// user exists, so a lock tells nothing about existence.
public actor MemoryState: GatewayState {
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
    private let now: @Sendable () -> ContinuousClock.Instant
    private var records: [LockoutKey: Record] = [:]
    private var roleChoices: [String: (choice: RoleChoice, expires: ContinuousClock.Instant)] = [:]
    private var usedCodes: [String: ContinuousClock.Instant] = [:]
    /// The size at which the next sweep runs; doubling keeps sweeps rare when most records must stay.
    private var sweepAt = 10_000

    public init(limits: LockoutSettings, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limits = limits
        self.now = now
    }

    private func failureLimit(_ key: LockoutKey) -> Int {
        if case .address = key { return limits.perAddress }
        return limits.perUser
    }

    private func inFlightLimit(_ key: LockoutKey) -> Int {
        if case .address = key { return limits.perAddressInFlight }
        return limits.perUserInFlight
    }

    public func admit(user: String, address: String, device: String?) -> Admission {
        let now = now()
        forgetIdle(now: now)
        let trusted = device.map(LockoutKey.device).flatMap { records[$0]?.isLocked(at: now) == true ? nil : $0 }
        let budget = [trusted ?? .user(user), .address(address)]
        let inFlight: [LockoutKey] = [.user(user), .address(address)]
        for key in budget {
            var record = records[key] ?? Record()
            record.failures.removeAll { now - $0 >= limits.window }
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
        return .admitted(AttemptTicket(id: UUID(), budget: budget, inFlight: inFlight))
    }

    @discardableResult
    public func finish(_ ticket: AttemptTicket, succeeded: Bool) -> Int {
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

    public func withdraw(_ ticket: AttemptTicket) {
        for key in ticket.inFlight { records[key, default: Record()].inFlight -= 1 }
        for key in ticket.budget { records[key, default: Record()].pending -= 1 }
    }

    public func isLocked(_ key: LockoutKey) -> Bool {
        records[key]?.isLocked(at: now()) ?? false
    }

    public func unlock(_ key: LockoutKey) -> Bool {
        guard var record = records[key], record.isLocked(at: now()) || !record.failures.isEmpty else { return false }
        record.failures = []
        record.lockedUntil = nil
        records[key] = record
        return true
    }

    public func holdRoleChoice(_ choice: RoleChoice, for lifetime: Duration) {
        let now = now()
        roleChoices = roleChoices.filter { $0.value.expires > now }
        roleChoices[choice.tokenDigest] = (choice, now + lifetime)
    }

    public func takeRoleChoice(tokenDigest: String) -> RoleChoice? {
        guard let entry = roleChoices.removeValue(forKey: tokenDigest), entry.expires > now() else { return nil }
        return entry.choice
    }

    public func claimOneTimeCode(digest: String, validity: Duration) -> Bool {
        let now = now()
        if usedCodes.count > sweepAt { usedCodes = usedCodes.filter { $0.value > now } }
        if let until = usedCodes[digest], until > now { return false }
        usedCodes[digest] = now + validity
        return true
    }

    public func health() -> StateHealth { .ok }

    /// Keeps memory bounded under a flood of distinct names: drop records with nothing left to remember.
    private func forgetIdle(now: ContinuousClock.Instant) {
        guard records.count > sweepAt else { return }
        records = records.filter { _, record in
            !record.isIdle || record.isLocked(at: now) || record.failures.contains { now - $0 < limits.window }
        }
        sweepAt = max(10_000, records.count * 2)
    }
}
