import Foundation
import GatewayConfig
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// One replica's connection pool to the shared database, with the deadline every call keeps, the schema it
/// brings up to date, and the health `/healthz` reports. `run()` must be running for calls to be answered.
public final class PostgresStore: Sendable {
    public let settings: PostgresSettings
    let client: PostgresClient
    let logger: Logger
    /// Nil once the schema is current and the last call succeeded; otherwise why decisions cannot be made.
    private let problem = Mutex<String?>("the schema has not been checked yet")

    public init(settings: PostgresSettings, password: String?, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        var configuration = PostgresClient.Configuration(host: settings.host, port: settings.port, username: settings.user, password: password,
                                                         database: settings.database, tls: try Self.tls(settings))
        configuration.options.connectTimeout = settings.timeout
        configuration.options.maximumConnections = settings.maxConnections
        configuration.options.minimumConnections = 0
        // The server gives up on a statement a little after we do, so nothing runs on long after the login
        // has been answered.
        let statementTimeout = settings.timeout.wholeMilliseconds + 1000
        configuration.options.additionalStartupParameters = [("application_name", "consolegate"), ("statement_timeout", "\(statementTimeout)")]
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// The configured database, with the password from `password_file` or `PGPASSWORD`.
    public convenience init(settings: PostgresSettings, environment: [String: String], logger: Logger) throws {
        try self.init(settings: settings, password: try Self.password(settings, environment: environment), logger: logger)
    }

    /// The password from `password_file` (its first line), or else `PGPASSWORD`; read before the drop, so the
    /// file may stay readable by root alone.
    static func password(_ settings: PostgresSettings, environment: [String: String]) throws -> String? {
        guard let file = settings.passwordFile else { return environment.nonEmpty("PGPASSWORD") }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw StateUnavailable("state.postgres.password_file: cannot read \(file)")
        }
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }

    static func tls(_ settings: PostgresSettings) throws -> PostgresClient.Configuration.TLS {
        switch settings.tls {
        case .disable:
            return .disable
        case .require:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            return .require(tls)
        case .verifyFull:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let caFile = settings.caFile {
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw StateUnavailable("state.postgres.ca_file: cannot read \(caFile) as PEM certificates: \(error)")
                }
            }
            return .require(tls)
        }
    }

    /// Runs the pool; from the first call on, brings the schema up to date (retrying while the database is
    /// unreachable), then checks the database every second so that `/healthz` tells the load balancer.
    /// Throws only for a schema that this role may not create or change: an operator has to act.
    public func run(onSchemaReady: @escaping @Sendable () -> Void = {}) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask {
                try await self.migrateUntilDone()
                onSchemaReady()
                try await self.watchHealth()
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func migrateUntilDone() async throws {
        var reported: String?
        while true {
            do {
                try await migrate()
                return
            } catch let error as SchemaNotPermitted {
                throw error
            } catch {
                let reason = "cannot bring the schema up to date: \(Self.describe(error))"
                problem.withLock { $0 = reason }
                if reason != reported { logger.error("\(reason); retrying every second") }
                reported = reason
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func watchHealth() async throws {
        while true {
            try await Task.sleep(for: .seconds(1))
            _ = try? await call("health check", probing: true) { try await $0.query("SELECT 1") }
        }
    }

    public var health: StateHealth {
        problem.withLock { $0 }.map { .degraded("postgres: \($0)") } ?? .ok
    }

    /// `body` on the pool, answered or abandoned within `state.postgres.timeout`: a stuck query keeps its
    /// connection, never the login. Every outcome updates the health. While the database is known not to
    /// answer, calls fail at once rather than each wait out the deadline (a login would otherwise wait twice:
    /// for its decision and for its audit record); the health check, every second, is what probes it.
    func call<T: Sendable>(_ what: String, probing: Bool = false, _ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        if !probing, let reason = problem.withLock({ $0 }) { throw StateUnavailable(reason) }
        do {
            let result = try await Deadline.run(within: settings.timeout) { [client] in try await body(client) }
            problem.withLock { $0 = nil }
            return result
        } catch {
            let reason = error is Deadline.Passed
                ? "\(what): no answer within state.postgres.timeout (\(DurationText.format(settings.timeout)))"
                : "\(what): \(Self.describe(error))"
            let wasHealthy = problem.withLock { old in
                defer { old = reason }
                return old == nil
            }
            if wasHealthy { logger.error("PostgreSQL unavailable; logins fail closed (503) until it answers", metadata: ["reason": "\(reason)"]) }
            throw StateUnavailable(reason)
        }
    }

    /// PostgresNIO keeps details out of its errors' descriptions; operators need the server's words.
    static func describe(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError {
            return describe(transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? transaction.rollbackError ?? error)
        }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    // MARK: - Schema

    struct SchemaNotPermitted: Error, CustomStringConvertible {
        var description: String
    }

    /// Applies the missing migrations, each in the same transaction as its version row, under an advisory
    /// lock: replicas that start together wait for each other, and each migration runs once. A current
    /// schema is only read, so a service role with no right to create anything starts fine.
    public func migrate(grantTo serviceRole: String? = nil) async throws {
        do {
            try await Deadline.run(within: max(settings.timeout, .seconds(30))) { try await self.applyMigrations(grantTo: serviceRole) }
            problem.withLock { $0 = nil }
        } catch is Deadline.Passed {
            throw StateUnavailable("no answer from PostgreSQL at \(settings.host):\(settings.port) within \(DurationText.format(max(settings.timeout, .seconds(30))))")
        }
    }

    private func applyMigrations(grantTo serviceRole: String?) async throws {
        if serviceRole == nil, try await schemaVersion() == PostgresSchema.latest { return }
        do {
            try await migrateInTransaction(grantTo: serviceRole)
        } catch let error as PostgresTransactionError {
            // What went wrong inside, so that a refusal to create the schema is told apart from an outage.
            throw error.closureError ?? error
        }
    }

    private func migrateInTransaction(grantTo serviceRole: String?) async throws {
        try await client.withTransaction(logger: logger) { connection in
            do {
                _ = try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLock))", logger: logger)
                for statement in PostgresSchema.bootstrap {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                var current = 0
                for try await version in try await connection.query("SELECT coalesce(max(version), 0) FROM consolegate.schema_version", logger: logger)
                    .decode(Int.self) {
                    current = version
                }
                guard current <= PostgresSchema.latest else {
                    throw SchemaNotPermitted(description: "the database's schema is version \(current), newer than this consolegate knows (\(PostgresSchema.latest)); upgrade consolegate on this replica")
                }
                for version in (current + 1)...max(current + 1, PostgresSchema.latest) where version <= PostgresSchema.latest {
                    for statement in PostgresSchema.migrations[version - 1] {
                        _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    _ = try await connection.query("INSERT INTO consolegate.schema_version (version) VALUES (\(version))", logger: logger)
                    logger.info("applied schema migration \(version) to PostgreSQL")
                }
                for statement in serviceRole.map(PostgresSchema.grants(to:)) ?? [] {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
                // Permission denied: retrying will not help; an operator must act.
                throw SchemaNotPermitted(description: """
                    PostgreSQL role \(settings.user) may not create or change the schema (\(Self.describe(error))); \
                    run `consolegate migrate` as the schema's owner, or grant the role CREATE on database \(settings.database)
                    """)
            }
        }
    }

    /// The applied version, 0 when there is no schema yet.
    func schemaVersion() async throws -> Int {
        let exists = try await client.query("SELECT to_regclass('consolegate.schema_version') IS NOT NULL", logger: logger)
        for try await present in exists.decode(Bool.self) where !present { return 0 }
        var version = 0
        for try await value in try await client.query("SELECT coalesce(max(version), 0) FROM consolegate.schema_version", logger: logger).decode(Int.self) {
            version = value
        }
        return version
    }

    public static var latestSchemaVersion: Int { PostgresSchema.latest }

    /// The applied schema version (0: none yet), within the deadline.
    public func currentSchemaVersion() async throws -> Int {
        try await call("schema version") { _ in try await self.schemaVersion() }
    }

    /// Rows of the migration table: (version, applied by).
    public func appliedMigrations() async throws -> [(Int, String)] {
        var rows: [(Int, String)] = []
        for try await row in try await client.query("SELECT version, applied_by FROM consolegate.schema_version ORDER BY version", logger: logger)
            .decode((Int, String).self) {
            rows.append(row)
        }
        return rows
    }
}

extension Logger {
    /// For one-shot commands, whose failures reach the person as errors, not log lines.
    public static var quiet: Logger {
        Logger(label: "consolegate", factory: { _ in SwiftLogNoOpLogHandler() })
    }
}

extension PostgresStore {
    /// For one-shot commands (`consolegate audit`, `consolegate migrate`): the pool runs while `body` does.
    public func whileRunning<T: Sendable>(_ body: @escaping @Sendable (PostgresStore) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await self.client.run()
                return nil
            }
            // A command asks once and reports what it gets; there is no health check to wait for.
            problem.withLock { $0 = nil }
            group.addTask { try await body(self) }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw StateUnavailable("the PostgreSQL pool stopped")
        }
    }
}
