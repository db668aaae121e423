import AWSSigV4
import Foundation
import GatewayConfig

/// What a front end asks for: this user, as this role, landing on this console page.
public struct MintRequest: Sendable {
    public var user: String
    public var roleArn: String
    public var destination: URL?
    public var region: String?
    /// Console session length; the config's `session_duration` when nil.
    public var sessionDuration: Duration?
    /// End the browser's current console session first; the config's `logout_first` when nil.
    public var logoutFirst: Bool?

    public init(user: String, roleArn: String, destination: URL? = nil, region: String? = nil, sessionDuration: Duration? = nil, logoutFirst: Bool? = nil) {
        self.user = user
        self.roleArn = roleArn
        self.destination = destination
        self.region = region
        self.sessionDuration = sessionDuration
        self.logoutFirst = logoutFirst
    }
}

/// A one-time console sign-in URL and what it grants.
public struct MintedURL: Sendable {
    public var url: URL
    /// When the console session ends (the URL itself must be used within 15 minutes).
    public var expiresAt: Date
    public var roleArn: String
    public var sessionName: String
    public var principalArn: String
    /// For the audit trail: it identifies the session in CloudTrail and is not a secret.
    public var accessKeyId: String

    public init(url: URL, expiresAt: Date, roleArn: String, sessionName: String, principalArn: String, accessKeyId: String) {
        self.url = url
        self.expiresAt = expiresAt
        self.roleArn = roleArn
        self.sessionName = sessionName
        self.principalArn = principalArn
        self.accessKeyId = accessKeyId
    }
}

/// Turns a user and role into credentials (through the configured strategy) and a console sign-in URL.
public struct ConsoleMinter: Sendable {
    /// Credentials for AssumeRole* are asked for at most this long, which every role allows by default;
    /// the console session may still last up to 12 h through SessionDuration.
    static let assumedCredentialSeconds = 3600

    let settings: AWSSettings
    let strategy: any MintingStrategy
    let federation: FederationClient
    let now: @Sendable () -> Date

    public init(settings: AWSSettings, strategy: any MintingStrategy, federation: FederationClient, now: @escaping @Sendable () -> Date = Date.init) {
        self.settings = settings
        self.strategy = strategy
        self.federation = federation
        self.now = now
    }

    public func consoleSeconds(_ request: MintRequest) -> Int {
        let wanted = request.sessionDuration ?? settings.sessionDuration
        return min(max(wanted, GatewayConfiguration.sessionDurationRange.lowerBound), GatewayConfiguration.sessionDurationRange.upperBound).wholeSeconds
    }

    /// The role's temporary credentials, e.g. for `credential_process`.
    public func credentials(for request: MintRequest) async throws -> RoleSession {
        let console = consoleSeconds(request)
        let credentialSeconds = settings.strategy == .federationToken ? console : min(console, Self.assumedCredentialSeconds)
        return try await strategy.session(user: request.user, roleArn: request.roleArn, durationSeconds: credentialSeconds)
    }

    public func mintURL(for request: MintRequest) async throws -> MintedURL {
        let destination = try ConsoleDestination.resolve(request.destination ?? settings.destination, region: request.region, partition: settings.partition)
        let session = try await credentials(for: request)
        let consoleSeconds: Int?
        switch session.kind {
        case .assumedRole: consoleSeconds = self.consoleSeconds(request)
        case .roleChained, .federationToken: consoleSeconds = nil
        }
        let token = try await federation.getSigninToken(credentials: session.credentials, sessionDuration: consoleSeconds)
        let login = federation.loginURL(issuer: settings.issuer, destination: destination, signinToken: token)
        let url = request.logoutFirst ?? settings.logoutFirst ? federation.logoutThenLogin(login) : login
        let expiresAt = consoleSeconds.map { now().addingTimeInterval(TimeInterval($0)) }
            ?? session.credentials.expiration
            ?? now().addingTimeInterval(TimeInterval(Self.assumedCredentialSeconds))
        return MintedURL(url: url, expiresAt: expiresAt, roleArn: session.roleArn, sessionName: session.sessionName,
                         principalArn: session.principalArn, accessKeyId: session.credentials.accessKeyId)
    }
}
