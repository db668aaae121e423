import AWSSigV4
import Foundation

/// AWS IAM over its Query protocol, for what revoking sessions needs: a role's id and its inline policies.
/// Always signed with the broker's credentials.
public struct IAMClient: Sendable {
    static let version = "2010-05-08"

    let service: AWSService

    public init(endpoint: URL, signingRegion: String, transport: any HTTPTransport, retry: RetryPolicy, timeout: Duration, credentials: any CredentialProvider) {
        service = AWSService(name: "iam", endpoint: endpoint, region: signingRegion, transport: transport, retry: retry, timeout: timeout, credentials: credentials)
    }

    /// The role's unique id (`AROA…`): the part of `aws:userid` before the session name.
    public func roleId(roleName: String) async throws -> String {
        let fields = try await perform(operation: "GetRole", parameters: [("RoleName", roleName)])
        guard let id = fields.first(endingWith: "Role/RoleId") else {
            throw MintingError.malformedResponse(operation: "GetRole", detail: "no RoleId in the answer")
        }
        return id
    }

    /// The inline policy's document, or nil when the role has no inline policy of that name.
    public func rolePolicy(roleName: String, policyName: String) async throws -> String? {
        let fields: XMLFields
        do {
            fields = try await perform(operation: "GetRolePolicy", parameters: [("RoleName", roleName), ("PolicyName", policyName)])
        } catch MintingError.awsRefused(_, "NoSuchEntity", _) {
            // Either the role or the policy is missing; roleId(roleName:) has told the two apart already.
            return nil
        }
        // IAM returns the document URL-encoded (RFC 3986).
        guard let encoded = fields.first(endingWith: "PolicyDocument"), let document = encoded.removingPercentEncoding else {
            throw MintingError.malformedResponse(operation: "GetRolePolicy", detail: "no readable PolicyDocument in the answer")
        }
        return document
    }

    public func putRolePolicy(roleName: String, policyName: String, document: String) async throws {
        _ = try await perform(operation: "PutRolePolicy", parameters: [("RoleName", roleName), ("PolicyName", policyName), ("PolicyDocument", document)])
    }

    private func perform(operation: String, parameters: [(String, String)]) async throws -> XMLFields {
        try await service.query(operation: operation, version: Self.version, parameters: parameters, signed: true)
    }
}
