import ArgumentParser
import Foundation
import GatewayConfig
import GatewayStore
import Minting
import Revocation

/// `consolegate revoke`: ends one person's console and credential sessions (or everyone's) on the managed
/// roles, at once, through each role's inline policy. Runs with the broker's credentials, so only whoever may
/// read the config and its credentials can use it.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "End a person's AWS sessions on the managed roles now (or, with --all, everyone's on one role).",
        discussion: """
            Adds a Deny statement to the role's inline policy \(RevocationPolicy.name) (IAM GetRole, GetRolePolicy, \
            PutRolePolicy): every session of that person issued before now is refused by AWS from then on, \
            whatever is left of its duration; new sign-ins work. Without --role, the roles are those the audit trail \
            shows the person signed in to in the last 12 hours. Each revocation is audited. \
            Exit codes: 0 revoked, 2 usage, 3 AWS refused, 4 AWS or the audit trail unavailable.
            """
    )

    @OptionGroup var configFile: ConfigFileOption

    @Option(name: .long, help: "Whose sessions to end (their login name).")
    var user: String?

    @Option(name: .long, help: "A role ARN to revoke on (repeatable); default: the roles the audit trail shows for --user.")
    var role: [String] = []

    @Flag(name: .long, help: "Every session of the --role, as the IAM console's \"Revoke active sessions\" does.")
    var all = false

    func validate() throws {
        switch (user, all) {
        case (nil, false): throw ValidationError("name --user, or --role with --all")
        case (.some, true): throw ValidationError("--all ends everyone's sessions: give it --role, not --user")
        case (nil, true) where role.isEmpty: throw ValidationError("--all needs --role")
        default: break
        }
        if let user, user.isEmpty || user.utf8.count > 256 || user.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError("--user takes a login name")
        }
        if let bad = role.first(where: { !$0.hasPrefix("arn:") || !$0.contains(":role/") }) {
            throw ValidationError("--role takes a role ARN (arn:aws:iam::ACCOUNT:role/NAME), not \(bad)")
        }
    }

    func run() async throws {
        let configuration = try configFile.load()
        if configuration.aws.strategy == .federationToken {
            throw CommandFailure("""
                aws.strategy federation-token: its sessions belong to the broker IAM user, not to a role, so no role policy can end \
                them. Attach a Deny with "aws:userid": "ACCOUNT:\(user.map { SessionName.encode($0, maxLength: SessionName.federatedUserLimit) } ?? "NAME")" \
                to the broker user, or rotate the broker's keys to end them all.
                """, exitCode: .usage)
        }
        let trail = AuditTrailAccess(configuration)
        let roles = try await rolesToRevoke(trail)
        let environment = ProcessInfo.processInfo.environment
        let endpoints = try Endpoints(partition: configuration.aws.partition, region: configuration.aws.region, environment: environment)
        let transport = AsyncHTTPTransport(environment: environment)
        let broker = CachingCredentialProvider(source: CredentialChain.standard(
            environment: environment, region: configuration.aws.region, endpoints: endpoints, transport: transport, retry: RetryPolicy(), timeout: configuration.aws.requestTimeout))
        let revoker = SessionRevoker(iam: IAMClient(endpoint: endpoints.iam, signingRegion: configuration.aws.partition.iamSigningRegion, transport: transport,
                                                    retry: RetryPolicy(), timeout: configuration.aws.requestTimeout, credentials: broker))
        let sessionNames = user.map { [SessionName.encode($0)] }
        let operatorName = ProcessInfo.processInfo.userName
        for role in roles {
            let outcome: SessionRevoker.Outcome
            do {
                outcome = try await revoker.revoke(roleArn: role, sessionNames: sessionNames, now: Date())
            } catch let problem as RevocationPolicy.PolicyProblem {
                throw CommandFailure("\(role): \(problem)", exitCode: .awsRefused)
            } catch {
                throw CommandFailure(error)
            }
            let detail = "revoked by \(operatorName) (uid \(getuid())): sessions of \(user ?? "everyone") issued before \(AuditTime.format(outcome.before))"
                + (outcome.collapsedToEveryone ? "; to stay within IAM's size limit every session of the role issued before then is ended" : "")
            // The record's time is the moment the sessions issued before it end; its session name is the one
            // ended, none when all of the role's are (as `consolegate sessions` reads it).
            let everyone = user == nil || outcome.collapsedToEveryone
            try await trail.write([AuditRecord(time: AuditTime.format(outcome.before), requestId: UUID().uuidString.lowercased(), frontEnd: "cli",
                                               user: user ?? "*", client: "uid:\(getuid())", outcome: .revoked, role: role,
                                               sessionName: everyone ? nil : sessionNames?.first, detail: detail)])
            print("\(role): \(detail) (\(RevocationPolicy.name): \(outcome.statements) statements, \(outcome.size) characters)")
        }
    }

    /// The roles named, or those the person signed in to within the longest a session can live.
    private func rolesToRevoke(_ trail: AuditTrailAccess) async throws -> [String] {
        guard role.isEmpty, let user else { return role }
        let since = Date().addingTimeInterval(-RevocationPolicy.longestSession)
        let signIns = try await trail.records(AuditQuery(user: user, outcome: .success, since: since, limit: 1_000_000))
        var seen = Set<String>()
        let roles = signIns.compactMap(\.role).filter { seen.insert($0).inserted }
        guard !roles.isEmpty else {
            throw CommandFailure("the audit trail shows no sign-in of \(user) in the last 12 hours; name the roles with --role to revoke anyway", exitCode: .usage)
        }
        return roles
    }
}
