import ArgumentParser
import Foundation
import GatewayConfig
import GatewayStore

/// `consolegate audit`: who signed in as which role, when and from where, from the trail `serve` writes
/// (PostgreSQL with `audit.postgres`, else the file).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit trail: sign-ins, failures and operator actions, oldest first.",
        discussion: """
            Reads PostgreSQL when the config sets audit.postgres (every replica's records), else audit.file \
            (this host's, without rotated files). Exit codes: 0 shown (even none), 2 usage, 4 the trail cannot be read.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
    }

    @OptionGroup var configFile: ConfigFileOption

    @Option(name: .long, help: "Only this user's records.")
    var user: String?

    @Option(name: .long, help: "Only this outcome (\(AuditRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", "))).")
    var outcome: String?

    @Option(name: .long, help: "Only records this recent, e.g. 30m, 1h, 7d.")
    var since: String?

    @Option(name: .long, help: "At most this many records, the newest.")
    var limit = 1000

    @Option(name: .long, help: "table (for people) or json (one record per line, as in the file).")
    var format: Format = .table

    func validate() throws {
        if let outcome, AuditRecord.Outcome(rawValue: outcome) == nil {
            throw ValidationError("--outcome must be one of: \(AuditRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let since, DurationText.parse(since) == nil {
            throw ValidationError("--since takes a duration such as 30m, 1h or 7d")
        }
        guard (1...1_000_000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000000") }
    }

    func run() async throws {
        let configuration = try configFile.load()
        let query = AuditQuery(user: user, outcome: outcome.flatMap(AuditRecord.Outcome.init(rawValue:)),
                               since: since.flatMap(DurationText.parse).map { Date().addingTimeInterval(-Double($0.wholeMilliseconds) / 1000) },
                               limit: limit)
        let records = try await AuditTrailAccess(configuration).records(query)
        switch format {
        case .json:
            try Self.printJSONLines(records)
        case .table:
            print(Self.table(records))
        }
    }

    /// One JSON object per line, keys sorted, as in the audit file.
    static func printJSONLines(_ values: [some Encodable]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for value in values {
            print(String(decoding: JSONLine.escapingLineBreakers(try encoder.encode(value)), as: UTF8.self))
        }
    }

    static func table(_ records: [AuditRecord]) -> String {
        columns(["TIME", "USER", "OUTCOME", "ROLE", "FROM", "VIA", "SESSION"], records.map { record in
            [record.time, record.user, record.outcome.rawValue, record.role ?? "-", record.client, record.frontEnd, record.sessionName ?? "-"]
        })
    }

    /// Columns as wide as their widest value; control characters in values are shown escaped, so a user
    /// name cannot redraw the terminal.
    static func columns(_ header: [String], _ values: [[String]]) -> String {
        let rows = values.map { row in
            row.map { $0.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined() }
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, value in
                column == row.count - 1 ? value : value.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// The trail `serve` writes, for commands: read from PostgreSQL with `audit.postgres` (every replica's
/// records), else from the file (this host's); written to each (as root, the file as the service user).
struct AuditTrailAccess {
    let configuration: GatewayConfiguration

    init(_ configuration: GatewayConfiguration) {
        self.configuration = configuration
    }

    /// `body` with the trail's reader and its sinks, the database's pool running meanwhile. Errors of `body`
    /// pass through; a trail that is not configured is a usage failure.
    func withTrail<T: Sendable>(_ body: @escaping @Sendable (any AuditReader, any AuditSink) async throws -> T) async throws -> T {
        let file = try configuration.audit.file.map { AuditLog(path: $0, owner: try ServiceAccount.toBecome(configuration.serviceUser, configFile: nil)) }
        guard configuration.audit.postgres, let settings = configuration.state.postgres else {
            guard let file, let reader = configuration.audit.reader(database: nil) else {
                throw CommandFailure("config: neither audit.file nor audit.postgres is set; there is no trail", exitCode: .usage)
            }
            return try await body(reader, file)
        }
        let store = try PostgresStore(settings: settings, environment: ProcessInfo.processInfo.environment, logger: .quiet)
        return try await store.whileRunning { store in
            let database = PostgresAudit(store: store)
            return try await body(database, AuditTrail([database] + [file].compactMap { $0 }))
        }
    }

    func records(_ query: AuditQuery) async throws(CommandFailure) -> [AuditRecord] {
        try await records([query])[0]
    }

    /// Each query's records, over one connection to the trail.
    func records(_ queries: [AuditQuery]) async throws(CommandFailure) -> [[AuditRecord]] {
        do {
            return try await withTrail { reader, _ in
                var answers: [[AuditRecord]] = []
                for query in queries { answers.append(try await reader.records(query)) }
                return answers
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("cannot read the audit trail: \(error)", exitCode: .upstreamUnavailable)
        }
    }
}
