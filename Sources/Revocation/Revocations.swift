import Foundation
import GatewayStore
import Minting

/// One operator's revocation, whichever way it came (`consolegate revoke`, or the daemon's socket): the roles
/// named, or those the trail shows the person signed in to within the longest a session lives; the policy on
/// each; one `revoked` record per role, written before the next role is touched.
public struct Revocations: Sendable {
    let revoker: SessionRevoker
    let reader: any AuditReader
    let audit: any AuditSink

    public init(revoker: SessionRevoker, reader: any AuditReader, audit: any AuditSink) {
        self.revoker = revoker
        self.reader = reader
        self.audit = audit
    }

    /// Whose sessions: one person's (by login name), or everyone's on the roles named.
    public enum Whom: Sendable, Equatable {
        case user(String)
        case everyone
    }

    /// Who asked, as the audit records it.
    public struct Operator: Sendable {
        public var name: String
        public var client: String
        public var frontEnd: String

        public init(name: String, client: String, frontEnd: String) {
            self.name = name
            self.client = client
            self.frontEnd = frontEnd
        }
    }

    public struct Revoked: Sendable, Equatable {
        public var role: String
        public var outcome: SessionRevoker.Outcome
        public var detail: String
    }

    /// The trail shows no sign-in to revoke and no role was named.
    public struct NothingToRevoke: Error, CustomStringConvertible {
        public var user: String
        public var description: String { "the audit trail shows no sign-in of \(user) in the last 12 hours; name the roles to revoke anyway" }
    }

    public func revoke(_ whom: Whom, roles named: [String], by person: Operator, now: @Sendable () -> Date = Date.init) async throws -> [Revoked] {
        let roles = try await rolesToRevoke(whom, named: named, since: now().addingTimeInterval(-RevocationPolicy.longestSession))
        // Whose sessions, as the policy names them, as people read it, and as the record's user.
        let (sessionNames, whose, recordedUser): ([String]?, String, String) = switch whom {
        case .user(let user): ([SessionName.encode(user)], user, user)
        case .everyone: (nil, "everyone", "*")
        }
        var done: [Revoked] = []
        for role in roles {
            let outcome = try await revoker.revoke(roleArn: role, sessionNames: sessionNames, now: now())
            let detail = "revoked by \(person.name) (\(person.client)): sessions of \(whose) issued before \(AuditTime.format(outcome.before))"
                + (outcome.collapsedToEveryone ? "; to stay within IAM's size limit every session of the role issued before then is ended" : "")
            // The record's time is the moment before which sessions end; its session name is the one ended,
            // none when all of the role's are (as `consolegate sessions` reads it).
            let sessionName = outcome.collapsedToEveryone ? nil : sessionNames?.first
            try await audit.record(AuditRecord(time: AuditTime.format(outcome.before), requestId: UUID().uuidString.lowercased(), frontEnd: person.frontEnd,
                                               user: recordedUser, client: person.client, outcome: .revoked, role: role,
                                               sessionName: sessionName, detail: detail))
            done.append(Revoked(role: role, outcome: outcome, detail: detail))
        }
        return done
    }

    private func rolesToRevoke(_ whom: Whom, named: [String], since: Date) async throws -> [String] {
        guard named.isEmpty, case .user(let user) = whom else { return named }
        let signIns = try await reader.records(AuditQuery(user: user, outcome: .success, since: since, limit: 1_000_000))
        var seen = Set<String>()
        let roles = signIns.compactMap(\.role).filter { seen.insert($0).inserted }
        guard !roles.isEmpty else { throw NothingToRevoke(user: user) }
        return roles
    }
}

extension SessionRevoker {
    /// IAM at the partition's endpoint (or `AWS_ENDPOINT_URL_IAM`), signed with the broker's credentials.
    public init(broker: Broker) {
        self.init(iam: IAMClient(endpoint: broker.endpoints.iam, signingRegion: broker.endpoints.partition.iamSigningRegion, transport: broker.transport,
                                 retry: broker.retry, timeout: broker.timeout, credentials: broker.credentials))
    }
}
