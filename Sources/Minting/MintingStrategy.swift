import AWSSigV4
import Foundation
import GatewayConfig

/// Temporary credentials minted for one user and role.
public struct RoleSession: Sendable {
    public var credentials: AWSCredentials
    /// The ARN STS reports for the session (`assumed-role/…` or `federated-user/…`).
    public var principalArn: String
    public var roleArn: String
    public var sessionName: String
    /// How the console treats these credentials when asked for a SessionDuration.
    public var kind: Kind

    public init(credentials: AWSCredentials, principalArn: String, roleArn: String, sessionName: String, kind: Kind) {
        self.credentials = credentials
        self.principalArn = principalArn
        self.roleArn = roleArn
        self.sessionName = sessionName
        self.kind = kind
    }

    public enum Kind: Sendable, Equatable {
        /// AssumeRole* from long-term or web identity credentials: SessionDuration 900–43200 allowed.
        case assumedRole
        /// A role assumed with another role's credentials: SessionDuration makes the console answer 400,
        /// and the console session lasts as long as the credentials (at most 1 h).
        case roleChained
        /// GetFederationToken: SessionDuration is refused; the credentials' own lifetime applies.
        case federationToken
    }
}

/// How a user's credentials are obtained from AWS; chosen by `aws.strategy`.
public protocol MintingStrategy: Sendable {
    func session(user: String, roleArn: String, durationSeconds: Int) async throws -> RoleSession
}

/// The two Cognito strategies: an OpenID token from the identity pool, then AssumeRoleWithWebIdentity
/// (the basic flow, so the session name is the user's and not `CognitoIdentityCredentials`).
public struct CognitoStrategy: MintingStrategy {
    public enum Flow: Sendable {
        /// `cognito-developer`: GetOpenIdTokenForDeveloperIdentity gives each user a stable identity.
        case developer
        /// `cognito-unauthenticated`: the classic flow, GetId → GetOpenIdToken, with no AWS credentials.
        case unauthenticated
    }

    let cognito: CognitoIdentityClient
    let sts: STSClient
    let settings: CognitoSettings
    let flow: Flow

    public init(cognito: CognitoIdentityClient, sts: STSClient, settings: CognitoSettings, flow: Flow) {
        self.cognito = cognito
        self.sts = sts
        self.settings = settings
        self.flow = flow
    }

    public func session(user: String, roleArn: String, durationSeconds: Int) async throws -> RoleSession {
        let token: String
        switch flow {
        case .developer:
            guard let provider = settings.developerProvider else {
                throw MintingError.invalidRequest("aws.cognito.developer_provider is required for strategy cognito-developer")
            }
            token = try await cognito.getOpenIdTokenForDeveloperIdentity(
                identityPoolId: settings.identityPoolId, logins: [provider: user], tokenDuration: settings.tokenDuration?.wholeSeconds
            ).token
        case .unauthenticated:
            let identityId = try await cognito.getId(identityPoolId: settings.identityPoolId, accountId: settings.accountId)
            token = try await cognito.getOpenIdToken(identityId: identityId)
        }
        let sessionName = SessionName.encode(user)
        let session = try await sts.assumeRoleWithWebIdentity(roleArn: roleArn, sessionName: sessionName, webIdentityToken: token, durationSeconds: durationSeconds)
        return RoleSession(credentials: session.credentials, principalArn: session.principalArn, roleArn: roleArn, sessionName: sessionName, kind: .assumedRole)
    }
}

/// `assume-role`: AssumeRole with the broker's credentials, SourceIdentity = the user, plus session tags.
public struct AssumeRoleStrategy: MintingStrategy {
    /// AWS caps role-chained sessions at one hour.
    static let chainedMaximum = 3600

    let sts: STSClient
    let brokerCredentials: any CredentialProvider
    let tags: [(key: String, value: String)]

    public init(sts: STSClient, brokerCredentials: any CredentialProvider, tags: [(key: String, value: String)]) {
        self.sts = sts
        self.brokerCredentials = brokerCredentials
        self.tags = tags
    }

    public func session(user: String, roleArn: String, durationSeconds: Int) async throws -> RoleSession {
        let sessionName = SessionName.encode(user)
        // Temporary broker credentials are a role session themselves (instance profile, task role, …).
        let chained = try await brokerCredentials.credentials().isTemporary
        let duration = chained ? min(durationSeconds, Self.chainedMaximum) : durationSeconds
        let resolvedTags = tags.map { (key: $0.key, value: $0.value.replacingOccurrences(of: "{user}", with: sessionName)) }
        let session = try await sts.assumeRole(roleArn: roleArn, sessionName: sessionName, sourceIdentity: sessionName, tags: resolvedTags, durationSeconds: duration)
        return RoleSession(credentials: session.credentials, principalArn: session.principalArn, roleArn: roleArn, sessionName: sessionName, kind: chained ? .roleChained : .assumedRole)
    }
}

/// `federation-token`: GetFederationToken with the configured inline policy (the broker must be an IAM user).
public struct FederationTokenStrategy: MintingStrategy {
    static let durationRange = 900...129_600

    let sts: STSClient
    let policy: String?

    public init(sts: STSClient, policy: String?) {
        self.sts = sts
        self.policy = policy
    }

    public func session(user: String, roleArn: String, durationSeconds: Int) async throws -> RoleSession {
        let name = SessionName.encode(user, maxLength: SessionName.federatedUserLimit)
        let duration = min(max(durationSeconds, Self.durationRange.lowerBound), Self.durationRange.upperBound)
        let session = try await sts.getFederationToken(name: name, policy: policy, durationSeconds: duration)
        return RoleSession(credentials: session.credentials, principalArn: session.principalArn, roleArn: roleArn, sessionName: name, kind: .federationToken)
    }
}
