import Foundation
import GatewayConfig
import PostgresNIO

/// The shared state of replicas in PostgreSQL (`state.backend: postgres`). Each decision is one statement:
/// the lockout's two are functions in the schema that lock the keys' rows, so replicas deciding at once
/// cannot overshoot the budget. Times are the database's, so replicas' clocks need not agree.
public struct PostgresState: GatewayState {
    let store: PostgresStore
    let limits: LockoutSettings
    /// How long an admitted attempt's slots last if it never finishes (its replica died): past the longest
    /// a PAM transaction may wait and run.
    let slotLifetime: Duration

    public init(store: PostgresStore, limits: LockoutSettings, slotLifetime: Duration) {
        self.store = store
        self.limits = limits
        self.slotLifetime = slotLifetime
    }

    public func admit(user: String, address: String, device: String?) async throws -> Admission {
        let ticket = UUID()
        let userKey = LockoutKey.user(user).description, addressKey = LockoutKey.address(address).description
        let deviceKey = device.map { LockoutKey.device($0).description }
        let (limits, slotLifetime) = (self.limits, self.slotLifetime)
        let answer = try await store.call("lockout admit") { client in
            let rows = try await client.query("""
                SELECT consolegate.admit(\(ticket), \(userKey), \(deviceKey)::text, \(addressKey), \(limits.perUser)::integer,
                    \(limits.perAddress)::integer, \(limits.perUserInFlight)::integer, \(limits.perAddressInFlight)::integer,
                    make_interval(secs => \(limits.window.seconds)), make_interval(secs => \(slotLifetime.seconds)))
                """)
            var answer: [String] = []
            for try await value in rows.decode([String].self) { answer = value }
            return answer
        }
        switch answer.first {
        case "admitted":
            let budget = answer.dropFirst().compactMap(LockoutKey.init)
            guard budget.count == 2 else { throw StateUnavailable("lockout admit: unexpected answer \(answer)") }
            return .admitted(AttemptTicket(id: ticket, budget: budget, inFlight: [.user(user), .address(address)]))
        case "locked": return .locked
        case "busy": return .busy
        default: throw StateUnavailable("lockout admit: unexpected answer \(answer)")
        }
    }

    @discardableResult
    public func finish(_ ticket: AttemptTicket, succeeded: Bool) async throws -> Int {
        let budget = ticket.budget.map(\.description)
        let address = ticket.inFlight.first { if case .address = $0 { true } else { false } }?.description ?? ""
        let limits = self.limits
        return try await store.call("lockout finish") { client in
            let rows = try await client.query("""
                SELECT consolegate.finish(\(ticket.id), \(succeeded), \(budget), \(address), \(limits.perUser)::integer,
                    \(limits.perAddress)::integer, make_interval(secs => \(limits.window.seconds)),
                    make_interval(secs => \(limits.duration.seconds)))
                """)
            var locked = 0
            for try await value in rows.decode(Int.self) { locked = value }
            return locked
        }
    }

    public func withdraw(_ ticket: AttemptTicket) async throws {
        _ = try await store.call("lockout withdraw") { client in
            try await client.query("DELETE FROM consolegate.attempt_slots WHERE ticket = \(ticket.id)")
        }
    }

    public func unlock(_ key: LockoutKey) async throws -> Bool {
        let key = key.description
        return try await store.call("unlock") { client in
            let rows = try await client.query("""
                UPDATE consolegate.lockout SET failures = '{}', locked_until = NULL
                WHERE key = \(key) AND (locked_until > clock_timestamp() OR cardinality(failures) > 0) RETURNING 1
                """)
            var found = false
            for try await _ in rows.decode(Int.self) { found = true }
            return found
        }
    }

    public func holdRoleChoice(_ choice: RoleChoice, for lifetime: Duration) async throws {
        _ = try await store.call("role choice") { client in
            try await client.query("""
                INSERT INTO consolegate.role_choices (token_digest, user_name, csrf_digest, client, expires)
                VALUES (\(choice.tokenDigest), \(choice.user), \(choice.csrfDigest), \(choice.client), clock_timestamp() + make_interval(secs => \(lifetime.seconds)))
                """)
        }
    }

    public func takeRoleChoice(tokenDigest: String) async throws -> RoleChoice? {
        try await store.call("role choice") { client in
            let rows = try await client.query("""
                DELETE FROM consolegate.role_choices WHERE token_digest = \(tokenDigest)
                RETURNING user_name, csrf_digest, client, expires > clock_timestamp()
                """)
            var choice: RoleChoice?
            for try await (user, csrf, address, valid) in rows.decode((String, String, String, Bool).self) where valid {
                choice = RoleChoice(tokenDigest: tokenDigest, user: user, csrfDigest: csrf, client: address)
            }
            return choice
        }
    }

    public func claimOneTimeCode(digest: String, validity: Duration) async throws -> Bool {
        try await store.call("one-time code") { client in
            let rows = try await client.query("""
                INSERT INTO consolegate.used_codes AS used (digest, expires)
                VALUES (\(digest), clock_timestamp() + make_interval(secs => \(validity.seconds)))
                ON CONFLICT (digest) DO UPDATE SET expires = excluded.expires WHERE used.expires <= clock_timestamp()
                RETURNING 1
                """)
            var claimed = false
            for try await _ in rows.decode(Int.self) { claimed = true }
            return claimed
        }
    }

    public func health() async -> StateHealth { store.health }

    /// Removes what has lapsed, a batch at a time and skipping rows that a login holds, so logins never wait
    /// for it. Every replica runs it; they skip each other's rows.
    public func sweepExpired() async throws {
        let window = limits.window.seconds
        _ = try await store.call("sweep") { client in
            try await client.query("""
                DELETE FROM consolegate.attempt_slots WHERE (ticket, key) IN (SELECT ticket, key FROM consolegate.attempt_slots
                    WHERE expires < clock_timestamp() LIMIT 5000 FOR UPDATE SKIP LOCKED)
                """)
            try await client.query("""
                DELETE FROM consolegate.role_choices WHERE token_digest IN (SELECT token_digest FROM consolegate.role_choices
                    WHERE expires < clock_timestamp() LIMIT 5000 FOR UPDATE SKIP LOCKED)
                """)
            try await client.query("""
                DELETE FROM consolegate.used_codes WHERE digest IN (SELECT digest FROM consolegate.used_codes
                    WHERE expires < clock_timestamp() LIMIT 5000 FOR UPDATE SKIP LOCKED)
                """)
            try await client.query("""
                DELETE FROM consolegate.lockout WHERE key IN (SELECT l.key FROM consolegate.lockout l
                    WHERE (l.locked_until IS NULL OR l.locked_until < clock_timestamp())
                      AND NOT EXISTS (SELECT 1 FROM unnest(l.failures) AS f WHERE f > clock_timestamp() - make_interval(secs => \(window)))
                      AND NOT EXISTS (SELECT 1 FROM consolegate.attempt_slots s WHERE s.key = l.key)
                    LIMIT 5000 FOR UPDATE SKIP LOCKED)
                """)
        }
    }

    /// Sweeps once a minute for as long as the daemon runs; a failed sweep waits for the next.
    public func sweepPeriodically(every interval: Duration = .seconds(60)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            try? await sweepExpired()
        }
    }
}

extension Duration {
    /// For `make_interval(secs => …)`: a double of seconds with millisecond precision.
    var seconds: Double { Double(wholeMilliseconds) / 1000 }
}
