import Foundation
import GatewayConfig
@testable import GatewayStore
import Logging
import PostgresNIO
import Synchronization
import TestSupport
import Testing

/// What only the PostgreSQL backend has: the schema and its migration, slots that outlive their replica,
/// the audit table, and failing closed when the database does not answer.
@Suite struct PostgresStoreTests {
    @Test func replicasStartingTogetherOnAnEmptyDatabaseCreateTheSchemaOnce() async throws {
        let database = try await TestDatabase.create()
        let stores = try (0..<3).map { _ in try database.store() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { await store.client.run() } }
            try await withThrowingTaskGroup(of: Void.self) { migrations in
                for store in stores { migrations.addTask { try await store.migrate() } }
                try await migrations.waitForAll()
            }
            group.cancelAll()
        }
        let versions = try await TestDatabase.values("SELECT version::text FROM consolegate.schema_version", database: database.settings.database)
        #expect(versions == ["\(PostgresSchema.latest)"])
    }

    /// An attempt whose replica died never finishes; its slots lapse, and the name may be tried again.
    @Test func slotsOfAnAttemptThatNeverFinishesLapse() async throws {
        let database = try await TestDatabase.create()
        let store = try database.store()
        let limits = LockoutSettings(perUser: 5, perUserInFlight: 1)
        try await withRunning([store]) {
            let state = PostgresState(store: store, limits: limits, slotLifetime: .milliseconds(300))
            guard case .admitted = try await state.admit(user: "alice", address: "192.0.2.1", device: nil) else {
                Issue.record("the first attempt must be admitted")
                return
            }
            #expect(try await state.admit(user: "alice", address: "192.0.2.1", device: nil) == .busy)
            let deadline = ContinuousClock.now + .seconds(5)
            while case .busy = try await state.admit(user: "alice", address: "192.0.2.1", device: nil) {
                guard ContinuousClock.now < deadline else {
                    Issue.record("the abandoned slot did not lapse")
                    return
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// What has lapsed goes; what still matters (a lock, recent failures, an unexpired code) stays.
    @Test func theSweepRemovesOnlyWhatHasLapsed() async throws {
        let database = try await TestDatabase.create()
        let store = try database.store()
        let limits = LockoutSettings(perUser: 2, perUserInFlight: 5)
        try await withRunning([store]) {
            let state = PostgresState(store: store, limits: limits, slotLifetime: .zero)
            for _ in 1...2 {
                guard case .admitted(let ticket) = try await state.admit(user: "locked", address: "192.0.2.1", device: nil) else { return }
                try await state.finish(ticket, succeeded: false)
            }
            _ = try await state.admit(user: "abandoned", address: "192.0.2.2", device: nil)   // never finished; its slots lapse at once
            try await state.holdRoleChoice(RoleChoice(tokenDigest: "old", user: "u", csrfDigest: "c", client: "a"), for: .zero)
            try await state.holdRoleChoice(RoleChoice(tokenDigest: "new", user: "u", csrfDigest: "c", client: "a"), for: .seconds(120))
            _ = try await state.claimOneTimeCode(digest: "old", validity: .zero)
            _ = try await state.claimOneTimeCode(digest: "new", validity: .seconds(300))
            try await state.sweepExpired()
            let db = database.settings.database
            #expect(try await TestDatabase.values("SELECT count(*)::text FROM consolegate.attempt_slots", database: db) == ["0"])
            #expect(try await TestDatabase.values("SELECT token_digest FROM consolegate.role_choices", database: db) == ["new"])
            #expect(try await TestDatabase.values("SELECT digest FROM consolegate.used_codes", database: db) == ["new"])
            #expect(try await TestDatabase.values("SELECT key FROM consolegate.lockout ORDER BY key", database: db) == ["address:192.0.2.1", "user:locked"])
        }
    }

    @Test func theAuditTableTakesRecordsAndAnswersQueries() async throws {
        let database = try await TestDatabase.create()
        let store = try database.store()
        try await withRunning([store]) {
            let audit = PostgresAudit(store: store)
            let now = Date()
            let records = [
                AuditRecord(time: AuditTime.format(now.addingTimeInterval(-7200)), requestId: "r1", frontEnd: "api", user: "alice", client: "192.0.2.1",
                            outcome: .authenticationFailed, detail: "old"),
                AuditRecord(time: AuditTime.format(now.addingTimeInterval(-60)), requestId: "r2", frontEnd: "web", user: "alice", client: "192.0.2.1",
                            outcome: .success, role: "arn:aws:iam::123456789012:role/R", sessionName: "alice", accessKeyId: "ASIAEXAMPLE"),
                AuditRecord(time: AuditTime.format(now.addingTimeInterval(-30)), requestId: "r3", frontEnd: "socket", user: "bob\u{2028}x", client: "uid:1001",
                            outcome: .success, role: "arn:aws:iam::123456789012:role/R"),
            ]
            for record in records { try await audit.record(record) }
            #expect(try await audit.records(AuditQuery()) == records)
            #expect(try await audit.records(AuditQuery(user: "alice")) == Array(records[0...1]))
            #expect(try await audit.records(AuditQuery(outcome: .success)) == Array(records[1...2]))
            #expect(try await audit.records(AuditQuery(since: now.addingTimeInterval(-3600))) == Array(records[1...2]))
            #expect(try await audit.records(AuditQuery(limit: 1)) == [records[2]])
        }
    }

    /// Even the role that owns the table cannot change or remove a record by accident; a service role set
    /// up by `migrate --grant-to` may only append and read.
    @Test func theAuditTrailIsAppendOnly() async throws {
        let database = try await TestDatabase.create()
        let owner = try database.store()
        let servicePassword = UUID().uuidString
        let serviceRole = database.settings.user + "_svc"
        try await TestDatabase.administer(["CREATE ROLE \(serviceRole) LOGIN PASSWORD '\(servicePassword)'"])
        var serviceSettings = database.settings
        serviceSettings.user = serviceRole
        let service = try PostgresStore(settings: serviceSettings, password: servicePassword, logger: .quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await owner.client.run() }
            group.addTask { await service.client.run() }
            defer { group.cancelAll() }
            try await owner.migrate(grantTo: serviceRole)
            try await service.migrate()  // current already: reads the version, creates nothing
            try await PostgresAudit(store: service).record(AuditRecord(time: AuditTime.format(Date()), requestId: "r", frontEnd: "api", user: "alice",
                                                                       client: "c", outcome: .success))
            #expect(try await PostgresAudit(store: service).records(AuditQuery()).count == 1)
            for statement in ["UPDATE consolegate.audit SET user_name = 'mallory'", "DELETE FROM consolegate.audit", "TRUNCATE consolegate.audit"] {
                for store in [service, owner] {
                    await #expect(throws: (any Error).self, "\(statement) as \(store.settings.user)") {
                        try await store.client.query(PostgresQuery(unsafeSQL: statement))
                    }
                }
            }
            #expect(try await PostgresAudit(store: owner).records(AuditQuery()).map(\.user) == ["alice"])
        }
    }

    /// A role that may not create the schema is told what to do, once: retrying would not help.
    @Test func aRoleThatMayNotCreateTheSchemaIsToldToRunMigrate() async throws {
        let database = try await TestDatabase.create()
        let role = database.settings.user + "_ro"
        try await TestDatabase.administer(["CREATE ROLE \(role) LOGIN PASSWORD 'pw'", "REVOKE CREATE ON DATABASE \(database.settings.database) FROM PUBLIC"])
        var settings = database.settings
        settings.user = role
        let store = try PostgresStore(settings: settings, password: "pw", logger: .quiet)
        await #expect {
            try await store.run()
        } throws: { error in
            "\(error)".contains("consolegate migrate")
        }
    }

    /// Nothing listens: the daemon's store says why in its health, and every decision fails closed at once
    /// rather than each waiting for the pool (which would wait for a connection forever).
    @Test func anUnreachableDatabaseFailsClosedAndSaysWhy() async throws {
        let closed = ClosedPort()
        let store = try PostgresStore(settings: PostgresSettings(host: "127.0.0.1", port: closed.port, user: "x", database: "x", tls: .disable, timeout: .milliseconds(500)),
                                      password: "x", logger: .quiet)
        let state = PostgresState(store: store, limits: LockoutSettings(), slotLifetime: .seconds(60))
        let audit = PostgresAudit(store: store)
        let daemon = Task { try await store.run() }
        defer { daemon.cancel() }
        await #expect(throws: StateUnavailable.self) { try await state.admit(user: "alice", address: "192.0.2.1", device: nil) }
        await #expect(throws: StateUnavailable.self) { try await audit.record(AuditRecord(time: "t", requestId: "r", frontEnd: "api", user: "a", client: "c", outcome: .success)) }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if case .degraded(let reason) = await state.health(), reason.contains("schema") { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the health never said the schema could not be brought up to date: \(await state.health())")
    }

    /// The deadline releases the caller even when the work ignores cancellation (a query on a database that
    /// stopped answering).
    @Test func theDeadlineReleasesTheCallerOfWorkThatDoesNotEnd() async throws {
        let release = Mutex(false)
        await #expect(throws: Deadline.Passed.self) {
            try await Deadline.run(within: .milliseconds(200)) {
                while !release.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
            }
        }
        release.withLock { $0 = true }
        #expect(try await Deadline.run(within: .seconds(30)) { 42 } == 42)
    }
}
