import AWSSigV4
import Foundation

/// AWS STS over its Query protocol (form-encoded POST, XML answers).
public struct STSClient: Sendable {
    static let version = "2011-06-15"

    let service: AWSService

    public init(endpoint: URL, region: String, transport: any HTTPTransport, retry: RetryPolicy, timeout: Duration, credentials: (any CredentialProvider)?) {
        service = AWSService(name: "sts", endpoint: endpoint, region: region, transport: transport, retry: retry, timeout: timeout, credentials: credentials)
    }

    /// Temporary credentials and who they belong to, as STS reports it.
    public struct Session: Sendable {
        public var credentials: AWSCredentials
        /// `AssumedRoleUser/Arn` or `FederatedUser/Arn`.
        public var principalArn: String
    }

    /// Unsigned, as the AWS SDKs send it: the web identity token is the proof.
    public func assumeRoleWithWebIdentity(roleArn: String, sessionName: String, webIdentityToken: String, durationSeconds: Int?) async throws -> Session {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName), ("WebIdentityToken", webIdentityToken)]
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        return try await session(operation: "AssumeRoleWithWebIdentity", parameters: parameters, signed: false, principal: "AssumedRoleUser/Arn")
    }

    public func assumeRole(roleArn: String, sessionName: String, sourceIdentity: String?, tags: [(key: String, value: String)], durationSeconds: Int?) async throws -> Session {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName)]
        if let sourceIdentity { parameters.append(("SourceIdentity", sourceIdentity)) }
        for (index, tag) in tags.enumerated() {
            parameters.append(("Tags.member.\(index + 1).Key", tag.key))
            parameters.append(("Tags.member.\(index + 1).Value", tag.value))
        }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        return try await session(operation: "AssumeRole", parameters: parameters, signed: true, principal: "AssumedRoleUser/Arn")
    }

    public func getFederationToken(name: String, policy: String?, durationSeconds: Int?) async throws -> Session {
        var parameters = [("Name", name)]
        if let policy { parameters.append(("Policy", policy)) }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        return try await session(operation: "GetFederationToken", parameters: parameters, signed: true, principal: "FederatedUser/Arn")
    }

    /// Who the signing credentials belong to: the ARN, and `aws:userid` as policies see it (for a role
    /// session `<role id>:<session name>`).
    public struct CallerIdentity: Sendable, Equatable {
        public var arn: String
        public var userId: String
    }

    public func getCallerIdentity() async throws -> CallerIdentity {
        let fields = try await perform(operation: "GetCallerIdentity", parameters: [], signed: true)
        guard let arn = fields.first(endingWith: "Arn"), let userId = fields.first(endingWith: "UserId") else {
            throw MintingError.malformedResponse(operation: "GetCallerIdentity", detail: "no Arn or UserId in the answer")
        }
        return CallerIdentity(arn: arn, userId: userId)
    }

    private func session(operation: String, parameters: [(String, String)], signed: Bool, principal: String) async throws -> Session {
        let fields = try await perform(operation: operation, parameters: parameters, signed: signed)
        guard let keyId = fields.first(endingWith: "Credentials/AccessKeyId"),
              let secret = fields.first(endingWith: "Credentials/SecretAccessKey"),
              let token = fields.first(endingWith: "Credentials/SessionToken"),
              let expirationText = fields.first(endingWith: "Credentials/Expiration"),
              let expiration = ISO8601.parse(expirationText)
        else {
            throw MintingError.malformedResponse(operation: operation, detail: "no complete Credentials element")
        }
        let credentials = AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token, expiration: expiration)
        return Session(credentials: credentials, principalArn: fields.first(endingWith: principal) ?? "")
    }

    private func perform(operation: String, parameters: [(String, String)], signed: Bool) async throws -> XMLFields {
        try await service.query(operation: operation, version: Self.version, parameters: parameters, signed: signed)
    }
}

enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return try? fractional.parse(text)
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
