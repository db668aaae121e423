import Foundation
import GatewayConfig

/// Somewhere audit records are kept for good: `record` returns only once the record is durable (on disk,
/// or committed), and throws otherwise, so that the caller can fail closed.
public protocol AuditSink: Sendable {
    func record(_ record: AuditRecord) async throws
    /// Whether records can be written now (for `/healthz`).
    func health() async -> StateHealth
}

extension AuditSink {
    public func health() async -> StateHealth { .ok }
}

/// Every configured sink: PostgreSQL (the trail all replicas share), then the file. A record counts as
/// written only when each has taken it; each is offered it either way, so that the file still tells of an
/// outage of the database.
public struct AuditTrail: AuditSink {
    let sinks: [any AuditSink]

    public init(_ sinks: [any AuditSink]) {
        precondition(!sinks.isEmpty, "an audit trail needs somewhere to write")
        self.sinks = sinks
    }

    public func record(_ record: AuditRecord) async throws {
        var firstError: (any Error)?
        for sink in sinks {
            do {
                try await sink.record(record)
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    public func health() async -> StateHealth {
        for sink in sinks {
            if case .degraded(let reason) = await sink.health() { return .degraded(reason) }
        }
        return .ok
    }
}

/// Where the trail is read back: PostgreSQL (every replica's records) or this host's file.
public protocol AuditReader: Sendable {
    /// The newest `query.limit` matching records, oldest first.
    func records(_ query: AuditQuery) async throws -> [AuditRecord]
}

extension AuditSettings {
    /// Where this trail is read back: PostgreSQL with `postgres` (through `database`), else the file; nil
    /// when neither is there.
    public func reader(database: PostgresStore?) -> (any AuditReader)? {
        if postgres, let database { return PostgresAudit(store: database) }
        return file.map(AuditFileReader.init(path:))
    }
}

public struct AuditFileReader: AuditReader {
    let path: String

    public init(path: String) {
        self.path = path
    }

    public func records(_ query: AuditQuery) throws -> [AuditRecord] {
        try query.read(file: path)
    }
}

/// What `consolegate audit` asks of the trail: which records, oldest first.
public struct AuditQuery: Sendable, Equatable {
    public var user: String?
    public var outcome: AuditRecord.Outcome?
    /// Only records at or after this moment.
    public var since: Date?
    /// At most this many, the newest ones.
    public var limit: Int

    public init(user: String? = nil, outcome: AuditRecord.Outcome? = nil, since: Date? = nil, limit: Int = 1000) {
        self.user = user
        self.outcome = outcome
        self.since = since
        self.limit = limit
    }

    public func matches(_ record: AuditRecord) -> Bool {
        if let user, record.user != user { return false }
        if let outcome, record.outcome != outcome { return false }
        if let since {
            guard let time = AuditTime.parse(record.time), time >= since else { return false }
        }
        return true
    }

    /// The matching records of a JSON-lines audit file (rotated files are not read). A line that is not a
    /// record is an error: an audit trail that cannot be read in full must not look complete.
    public func read(file path: String) throws -> [AuditRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AuditUnavailable(description: "cannot read the audit log \(path)")
        }
        let decoder = JSONDecoder()
        var matching: [AuditRecord] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            guard let record = try? decoder.decode(AuditRecord.self, from: Data(line)) else {
                throw AuditUnavailable(description: "\(path) line \(index + 1) is not an audit record")
            }
            if matches(record) { matching.append(record) }
        }
        return Array(matching.suffix(limit))
    }
}

/// The audit trail's timestamps: ISO 8601 in UTC with milliseconds.
public enum AuditTime {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
