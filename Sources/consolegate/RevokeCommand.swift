import ArgumentParser
import Foundation
import Gateway
import GatewayAPI
import GatewayConfig
import GatewayStore
import Minting
import Revocation

/// `consolegate revoke`: ends one person's console and credential sessions (or everyone's) on the managed
/// roles, at once, through each role's inline policy. Directly with the broker's credentials (whoever can
/// read the config and those), or, with `--through-daemon`, by the daemon for root and `admin_group`.
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "End a person's AWS sessions on the managed roles now (or, with --all, everyone's on the roles named).",
        discussion: """
            Adds a Deny statement to the role's inline policy \(RevocationPolicy.name) (IAM GetRole, GetRolePolicy, \
            PutRolePolicy): every session of that person issued before now is refused by AWS from then on, \
            whatever is left of its duration; new sign-ins work. Without --role, the roles are those the audit trail \
            shows the person signed in to in the last 12 hours. Each revocation is audited. \
            Exit codes: 0 revoked, 2 usage (or nothing to revoke), 3 AWS refused or not permitted, 4 AWS, the daemon or the audit trail unavailable.
            """
    )

    @OptionGroup var configFile: ConfigFileOption

    @Option(name: .long, help: "Whose sessions to end (their login name).")
    var user: String?

    @Option(name: .long, help: "A role ARN to revoke on (repeatable); default: the roles the audit trail shows for --user.")
    var role: [String] = []

    @Flag(name: .long, help: "Every session of the --role, as the IAM console's \"Revoke active sessions\" does.")
    var all = false

    @Flag(name: .long, help: "Ask the daemon over its socket (root or admin_group; the daemon holds the broker's credentials).")
    var throughDaemon = false

    @OptionGroup var daemon: SocketOption

    func validate() throws {
        switch (user, all) {
        case (nil, false): throw ValidationError("name --user, or --role with --all")
        case (.some, true): throw ValidationError("--all ends everyone's sessions: give it --role, not --user")
        case (nil, true) where role.isEmpty: throw ValidationError("--all needs --role")
        default: break
        }
        if let user, !LoginService.isAcceptableUserName(user) {
            throw ValidationError("--user takes a login name")
        }
        if let bad = role.first(where: { !SessionRevoker.isRoleArn($0) }) {
            throw ValidationError("--role takes a role ARN (arn:aws:iam::ACCOUNT:role/NAME), not \(bad)")
        }
    }

    var whom: Revocations.Whom { user.map(Revocations.Whom.user) ?? .everyone }

    func run() async throws {
        if throughDaemon {
            try await askDaemon()
            return
        }
        let configuration = try configFile.load()
        try Self.refuseFederationTokens(configuration, user: user)
        let revoker = SessionRevoker(broker: try Broker(configuration: configuration.aws, environment: ProcessInfo.processInfo.environment,
                                                        transport: AsyncHTTPTransport()))
        let person = Revocations.Operator(name: ProcessInfo.processInfo.userName, client: "uid:\(getuid())", frontEnd: "cli")
        let (whom, roles) = (whom, role)
        let revoked: [Revocations.Revoked]
        do {
            revoked = try await AuditTrailAccess(configuration).withTrail { reader, audit in
                try await Revocations(revoker: revoker, reader: reader, audit: audit).revoke(whom, roles: roles, by: person)
            }
        } catch {
            throw Self.failure(error)
        }
        for done in revoked { print(Self.line(done.role, done.detail, statements: done.outcome.statements, size: done.outcome.size)) }
    }

    static func line(_ role: String, _ detail: String, statements: Int, size: Int) -> String {
        "\(role): \(detail) (\(RevocationPolicy.name): \(statements) statements, \(size) characters)"
    }

    /// federation-token sessions belong to the broker IAM user: no role policy reaches them.
    static func refuseFederationTokens(_ configuration: GatewayConfiguration, user: String?) throws {
        guard configuration.aws.strategy == .federationToken else { return }
        throw CommandFailure("""
            aws.strategy federation-token: its sessions belong to the broker IAM user, not to a role, so no role policy can end \
            them. Attach a Deny with "aws:userid": "ACCOUNT:\(user.map { SessionName.encode($0, maxLength: SessionName.federatedUserLimit) } ?? "NAME")" \
            to the broker user, or rotate the broker's keys to end them all.
            """, exitCode: .usage)
    }

    static func failure(_ error: any Error) -> CommandFailure {
        switch error {
        case let nothing as Revocations.NothingToRevoke: CommandFailure("\(nothing)", exitCode: .usage)
        case let problem as RevocationPolicy.PolicyProblem: CommandFailure("\(problem)", exitCode: .awsRefused)
        case is MintingError, is CommandFailure: CommandFailure(error)
        default: CommandFailure("the audit trail is unavailable: \(error)", exitCode: .upstreamUnavailable)
        }
    }

    /// One request per role named (the socket's body is flat), or one for the roles the daemon's trail shows.
    private func askDaemon() async throws {
        for role in role.isEmpty ? [nil] : role.map(Optional.some) {
            let answer = try await DaemonSocket(path: daemon.socket).post("/v1/revoke", SocketRevokeRequest(user: user, role: role, all: all),
                                                                          answer: RevokeAnswer.self, timeout: .seconds(120))
            for done in answer.revoked {
                print(Self.line(done.role, done.detail, statements: done.statements, size: done.size))
            }
        }
    }
}
