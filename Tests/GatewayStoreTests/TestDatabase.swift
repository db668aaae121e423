import Foundation
import GatewayConfig
@testable import GatewayStore
import Logging
import PostgresNIO
import Testing

/// A fresh database in the throwaway cluster scripts/test.sh starts (scripts/lib/postgres.sh), owned by a
/// login role of its own, for each test that asks.
struct TestDatabase {
    let settings: PostgresSettings
    let password: String

    struct NotRunning: Error, CustomStringConvertible {
        var description: String
    }

    static var superuser: (port: Int, password: String) {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            guard let port = environment["CONSOLEGATE_TEST_PG_PORT"].flatMap(Int.init), let password = environment["CONSOLEGATE_TEST_PG_PASSWORD"] else {
                throw NotRunning(description: "CONSOLEGATE_TEST_PG_PORT/CONSOLEGATE_TEST_PG_PASSWORD are not set: run scripts/test.sh, or `source scripts/lib/postgres.sh; start_postgres` first")
            }
            return (port, password)
        }
    }

    /// `body` on a pool of the superuser's, running for as long as `body` does.
    static func asSuperuser<T: Sendable>(database: String, _ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let (port, password) = try superuser
        let store = try PostgresStore(settings: PostgresSettings(host: "127.0.0.1", port: port, user: "postgres", database: database, tls: .disable),
                                      password: password, logger: .quiet)
        return try await store.whileRunning { try await body($0.client) }
    }

    /// Runs SQL as the superuser, one statement at a time.
    static func administer(_ statements: [String], database: String = "postgres") async throws {
        try await asSuperuser(database: database) { client in
            for statement in statements { try await client.query(PostgresQuery(unsafeSQL: statement)) }
        }
    }

    /// The first column of each row, as text.
    static func values(_ sql: String, database: String) async throws -> [String] {
        try await asSuperuser(database: database) { client in
            var values: [String] = []
            for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { values.append(value) }
            return values
        }
    }

    /// A new empty database and a role that owns it.
    static func create(timeout: Duration = .seconds(2)) async throws -> TestDatabase {
        let (port, _) = try superuser
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let password = UUID().uuidString
        try await administer(["CREATE ROLE \(name) LOGIN PASSWORD '\(password)'", "CREATE DATABASE \(name) OWNER \(name)"])
        return TestDatabase(settings: PostgresSettings(host: "127.0.0.1", port: port, user: String(name), database: String(name), tls: .disable, timeout: timeout),
                            password: password)
    }

    func store() throws -> PostgresStore {
        try PostgresStore(settings: settings, password: password, logger: .quiet)
    }
}

/// Runs each store's pool (and brings the schema up to date) while `body` runs.
func withRunning<T: Sendable>(_ stores: [PostgresStore], _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    guard let first = stores.first else { return try await body() }
    return try await first.whileRunning { store in
        try await withRunning(Array(stores.dropFirst())) {
            try await store.migrate()
            return try await body()
        }
    }
}
