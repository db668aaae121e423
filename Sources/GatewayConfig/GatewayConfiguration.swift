import Foundation

/// The whole ConsoleGate configuration file.
public struct GatewayConfiguration: Sendable {
    public var aws: AWSSettings
    public var access: [AccessRule]
    public var listen: ListenSettings
    public var pam: PAMSettings
    public var audit: AuditSettings
    public var lockout: LockoutSettings
    public var state: StateSettings
    /// Peers whose X-Forwarded-For is believed (reverse proxies in front of the gateway).
    public var trustedProxies: [String]
    /// Members of this group (and root) may run operator commands on the local socket (`consolegate unlock`).
    public var adminGroup: String?
    /// The account `serve`, started as root, becomes once its listeners are bound.
    public var serviceUser: String

    public init(aws: AWSSettings, access: [AccessRule], listen: ListenSettings = ListenSettings(), pam: PAMSettings = PAMSettings(),
                audit: AuditSettings = AuditSettings(), lockout: LockoutSettings = LockoutSettings(), state: StateSettings = StateSettings(),
                trustedProxies: [String] = [], adminGroup: String? = nil, serviceUser: String = "consolegate") {
        self.state = state
        self.adminGroup = adminGroup
        self.serviceUser = serviceUser
        self.aws = aws
        self.access = access
        self.listen = listen
        self.pam = pam
        self.audit = audit
        self.lockout = lockout
        self.trustedProxies = trustedProxies
    }
}

public enum Partition: String, Sendable, CaseIterable {
    case aws
    case awsCN = "aws-cn"
    case awsUSGov = "aws-us-gov"
}

public enum StrategyKind: String, Sendable, CaseIterable {
    case cognitoDeveloper = "cognito-developer"
    case cognitoUnauthenticated = "cognito-unauthenticated"
    case assumeRole = "assume-role"
    case federationToken = "federation-token"

    public var usesCognito: Bool { self == .cognitoDeveloper || self == .cognitoUnauthenticated }
}

public struct CognitoSettings: Sendable {
    public var identityPoolId: String
    /// Needed by GetId for pools in another account than the caller's; optional otherwise.
    public var accountId: String?
    public var developerProvider: String?
    /// Lifetime of the Cognito OpenID token (GetOpenIdTokenForDeveloperIdentity); AWS's default is 900 s.
    public var tokenDuration: Duration?

    public init(identityPoolId: String, accountId: String? = nil, developerProvider: String? = nil, tokenDuration: Duration? = nil) {
        self.identityPoolId = identityPoolId
        self.accountId = accountId
        self.developerProvider = developerProvider
        self.tokenDuration = tokenDuration
    }
}

public struct AWSSettings: Sendable {
    public static let defaultSessionDuration: Duration = .seconds(3600)
    public static let defaultRequestTimeout: Duration = .seconds(10)
    public static let defaultLoginTimeout: Duration = .seconds(15)

    public var partition: Partition
    public var region: String
    public var strategy: StrategyKind
    public var cognito: CognitoSettings?
    public var federationPolicy: String?
    /// Console session length in seconds (900–43200).
    public var sessionDuration: Duration
    /// Session tags for `assume-role`; `{user}` in a value becomes the user name.
    public var sessionTags: [(key: String, value: String)]
    public var signinEndpoint: URL?
    public var issuer: URL?
    public var destination: URL?
    /// Deadline for one HTTP call to AWS or the federation endpoint, in seconds.
    public var requestTimeout: Duration
    /// Deadline for a whole mint (every call and retry), in seconds; past it the client gets 503.
    public var loginTimeout: Duration
    /// Wrap sign-in URLs so the browser's current console session is ended first (a request may override it).
    public var logoutFirst: Bool

    public init(
        partition: Partition = .aws, region: String = "us-east-1", strategy: StrategyKind = .cognitoDeveloper,
        cognito: CognitoSettings? = nil, federationPolicy: String? = nil,
        sessionDuration: Duration = AWSSettings.defaultSessionDuration, sessionTags: [(key: String, value: String)] = [],
        signinEndpoint: URL? = nil, issuer: URL? = nil, destination: URL? = nil,
        requestTimeout: Duration = AWSSettings.defaultRequestTimeout, loginTimeout: Duration = AWSSettings.defaultLoginTimeout, logoutFirst: Bool = false
    ) {
        self.loginTimeout = loginTimeout
        self.partition = partition
        self.region = region
        self.strategy = strategy
        self.cognito = cognito
        self.federationPolicy = federationPolicy
        self.sessionDuration = sessionDuration
        self.sessionTags = sessionTags
        self.signinEndpoint = signinEndpoint
        self.issuer = issuer
        self.destination = destination
        self.requestTimeout = requestTimeout
        self.logoutFirst = logoutFirst
    }
}

/// One line of the access list: who (users or groups) may take which role.
public struct AccessRule: Sendable, Equatable {
    public var role: String
    public var users: [String]
    public var groups: [String]
    public var destination: URL?
    public var sessionDuration: Duration?
    /// Step-up: a PAM service that must also say yes before this role is granted, after the base
    /// authentication (`pam.service`); it is given only the secrets of `secrets` beyond `pam.secrets`.
    public var pamService: String?
    /// Everything a person gives for this role (nil: `pam.secrets`); always includes `pam.secrets`.
    public var secrets: [SecretKind]?
    /// The console's region for this role (nil: `aws.region`), unless the request names one.
    public var region: String?
    /// What people see for this role: the chooser, `consolegate login`, `/api/v1/roles` (nil: the ARN).
    public var label: String?

    public init(role: String, users: [String] = [], groups: [String] = [], destination: URL? = nil, sessionDuration: Duration? = nil,
                pamService: String? = nil, secrets: [SecretKind]? = nil, region: String? = nil, label: String? = nil) {
        self.role = role
        self.users = users
        self.groups = groups
        self.destination = destination
        self.sessionDuration = sessionDuration
        self.pamService = pamService
        self.secrets = secrets
        self.region = region
        self.label = label
    }

    /// The name people see.
    public var displayName: String { label ?? role }

    /// The secrets beyond the base ones that this role's step-up service is given, in this rule's order.
    public func stepUpSecrets(base: [SecretKind]) -> [SecretKind] {
        (secrets ?? base).filter { !base.contains($0) }
    }
}
