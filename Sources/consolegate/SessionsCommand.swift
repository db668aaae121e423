import ArgumentParser
import Foundation
import GatewayConfig
import GatewayStore
import Revocation

/// `consolegate sessions`: the console and credential sessions that still work, from the audit trail: each
/// sign-in that has not expired and that no `consolegate revoke` has ended since.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the AWS sessions that are still valid: user, role, session, key, issued, expires, front end.",
        discussion: """
            Reads the audit trail (PostgreSQL with audit.postgres, else audit.file): the sign-ins of the last 12 hours \
            whose console session or credentials have not expired, less those a revocation has ended. \
            Exit codes: 0 listed (even none), 2 usage, 4 the trail cannot be read.
            """
    )

    @OptionGroup var configFile: ConfigFileOption

    @Option(name: .long, help: "Only this user's sessions.")
    var user: String?

    @Option(name: .long, help: "Only sessions of this role ARN.")
    var role: String?

    @Option(name: .long, help: "table (for people) or json (one session per line).")
    var format: AuditCommand.Format = .table

    func run() async throws {
        let configuration = try configFile.load()
        let trail = AuditTrailAccess(configuration)
        let now = Date()
        let since = now.addingTimeInterval(-RevocationPolicy.longestSession)
        let answers = try await trail.records([AuditQuery(user: user, outcome: .success, since: since, limit: 1_000_000),
                                               AuditQuery(outcome: .revoked, since: since, limit: 1_000_000)])
        let sessions = Self.valid(answers[0], revocations: answers[1], at: now).filter { role == nil || $0.role == role }
        switch format {
        case .json:
            try AuditCommand.printJSONLines(sessions)
        case .table:
            print(AuditCommand.columns(["USER", "ROLE", "SESSION", "KEY", "ISSUED", "EXPIRES", "VIA"], sessions.map {
                [$0.user, $0.role, $0.sessionName, $0.accessKeyId, $0.issued, $0.expires, $0.frontEnd]
            }))
        }
    }

    struct Session: Encodable, Equatable {
        var user: String
        var role: String
        var sessionName: String
        var accessKeyId: String
        var issued: String
        var expires: String
        var frontEnd: String

        enum CodingKeys: String, CodingKey {
            case user, role, issued, expires
            case sessionName = "session_name"
            case accessKeyId = "access_key_id"
            case frontEnd = "front_end"
        }
    }

    /// Sign-ins that minted something not yet expired, unless a revocation of that role, for that session
    /// (or for all), came after them.
    static func valid(_ signIns: [AuditRecord], revocations: [AuditRecord], at now: Date) -> [Session] {
        signIns.compactMap { record in
            guard let role = record.role, let sessionName = record.sessionName, let accessKeyId = record.accessKeyId,
                  let expires = record.expires, let end = AuditTime.parse(expires), end > now,
                  let issued = AuditTime.parse(record.time)
            else { return nil }
            let ended = revocations.contains { revocation in
                revocation.role == role && (revocation.sessionName == nil || revocation.sessionName == sessionName)
                    && AuditTime.parse(revocation.time).map { issued < $0 } == true
            }
            guard !ended else { return nil }
            return Session(user: record.user, role: role, sessionName: sessionName, accessKeyId: accessKeyId, issued: record.time,
                           expires: expires, frontEnd: record.frontEnd)
        }
    }
}
