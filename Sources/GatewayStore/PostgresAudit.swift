import Foundation
import PostgresNIO

/// The audit trail as rows of `consolegate.audit` (`audit.postgres: true`): a record is written once its
/// INSERT has committed. The service role may insert and read, never change or delete (see the GRANTs in
/// the README, and the table's append-only trigger).
public struct PostgresAudit: AuditSink, AuditReader {
    let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    public func record(_ record: AuditRecord) async throws {
        _ = try await store.call("audit") { client in
            try await client.query("""
                INSERT INTO consolegate.audit (time, request_id, front_end, user_name, client, outcome, role, session_name, access_key_id, expires, detail)
                VALUES (\(record.time)::timestamptz, \(record.requestId), \(record.frontEnd), \(record.user), \(record.client), \(record.outcome.rawValue),
                        \(record.role), \(record.sessionName), \(record.accessKeyId), \(record.expires)::timestamptz, \(record.detail))
                """)
        }
    }

    public func health() async -> StateHealth { store.health }

    public func records(_ query: AuditQuery) async throws -> [AuditRecord] {
        let since = query.since.map(AuditTime.format)
        return try await store.call("audit query") { client in
            let rows = try await client.query("""
                SELECT * FROM (
                    SELECT id, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), request_id, front_end, user_name, client, outcome,
                           role, session_name, access_key_id,
                           to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), detail
                    FROM consolegate.audit
                    WHERE (\(query.user)::text IS NULL OR user_name = \(query.user))
                      AND (\(query.outcome?.rawValue)::text IS NULL OR outcome = \(query.outcome?.rawValue))
                      AND (\(since)::timestamptz IS NULL OR time >= \(since)::timestamptz)
                    ORDER BY time DESC, id DESC LIMIT \(query.limit)
                ) AS newest ORDER BY 2, 1
                """)
            var records: [AuditRecord] = []
            for try await (_, time, requestId, frontEnd, user, client, outcome, role, session, key, expires, detail) in rows.decode(
                (Int64, String, String, String, String, String, String, String?, String?, String?, String?, String?).self) {
                guard let outcome = AuditRecord.Outcome(rawValue: outcome) else {
                    throw AuditUnavailable(description: "consolegate.audit holds an outcome this consolegate does not know: \(outcome)")
                }
                records.append(AuditRecord(time: time, requestId: requestId, frontEnd: frontEnd, user: user, client: client, outcome: outcome,
                                           role: role, sessionName: session, accessKeyId: key, expires: expires, detail: detail))
            }
            return records
        }
    }
}
