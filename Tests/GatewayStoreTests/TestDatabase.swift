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

    /// Runs SQL as the superuser, one statement at a time.
    static func administer(_ statements: [String], database: String = "postgres") async throws {
        let (port, password) = try superuser
        let client = PostgresClient(configuration: .init(host: "127.0.0.1", port: port, username: "postgres", password: password, database: database, tls: .disable),
                                    backgroundLogger: .quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            for statement in statements { try await client.query(PostgresQuery(unsafeSQL: statement)) }
            group.cancelAll()
        }
    }

    /// The first column of each row, as text.
    static func values(_ sql: String, database: String) async throws -> [String] {
        let (port, password) = try superuser
        let client = PostgresClient(configuration: .init(host: "127.0.0.1", port: port, username: "postgres", password: password, database: database, tls: .disable),
                                    backgroundLogger: .quiet)
        return try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            var values: [String] = []
            for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { values.append(value) }
            group.cancelAll()
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
    try await withThrowingTaskGroup(of: T?.self) { group in
        for store in stores {
            group.addTask {
                await store.client.run()
                return nil
            }
        }
        group.addTask {
            for store in stores { try await store.migrate() }
            return try await body()
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let result { return result }
        }
        throw TestDatabase.NotRunning(description: "the pools stopped")
    }
}
