import ArgumentParser
import Foundation
import GatewayConfig
import GatewayStore

/// `consolegate migrate`: creates or updates the PostgreSQL schema as its owner, for sites where the service
/// role may only use the tables (the README's GRANTs). `serve` does the same at start when its role may.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the PostgreSQL schema of state.postgres, as the schema's owner.",
        discussion: """
            Connects to --url (the owner's role; password from PGPASSWORD) or else to state.postgres.url. With \
            --grant-to, grants that role what serve needs and no more: the state tables in full, the audit \
            table INSERT and SELECT only. Exit codes: 0 done, 2 usage, 4 the database refused or cannot be reached.
            """
    )

    @OptionGroup var configFile: ConfigFileOption

    @Option(name: .long, help: "postgres://OWNER@HOST[:PORT]/DATABASE[?sslmode=…] to connect as, instead of state.postgres.url.")
    var url: String?

    @Option(name: .long, help: "The service role to grant the use of the tables (the user in state.postgres.url).")
    var grantTo: String?

    func run() async throws {
        let configuration = try configFile.load()
        guard var settings = configuration.state.postgres else {
            throw CommandFailure("config: state.postgres is not set; there is no database to migrate", exitCode: .usage)
        }
        if let url {
            do {
                let owner = try PostgresSettings(url: url)
                (settings.host, settings.port, settings.user, settings.database, settings.tls) = (owner.host, owner.port, owner.user, owner.database, owner.tls)
                settings.passwordFile = nil
            } catch {
                throw CommandFailure("--url \(error.text)", exitCode: .usage)
            }
        }
        do {
            let store = try PostgresStore(settings: settings, environment: ProcessInfo.processInfo.environment, logger: .quiet)
            let grantTo = grantTo
            let applied = try await store.whileRunning { store in
                try await store.migrate(grantTo: grantTo)
                return try await store.appliedMigrations()
            }
            print("schema consolegate at version \(applied.last?.0 ?? 0) in \(settings.database) on \(settings.host)"
                  + (grantTo.map { "; granted \($0) the use of it" } ?? ""))
        } catch {
            throw CommandFailure("cannot migrate: \(error)", exitCode: .upstreamUnavailable)
        }
    }
}
