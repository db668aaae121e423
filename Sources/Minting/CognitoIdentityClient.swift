import AWSSigV4
import Foundation

/// Amazon Cognito Identity over JSON 1.1 (`X-Amz-Target: AWSCognitoIdentityService.<Operation>`).
public struct CognitoIdentityClient: Sendable {
    let service: AWSService

    public init(endpoint: URL, region: String, transport: any HTTPTransport, retry: RetryPolicy, timeout: Duration, credentials: (any CredentialProvider)?) {
        service = AWSService(name: "cognito-identity", endpoint: endpoint, region: region, transport: transport, retry: retry, timeout: timeout, credentials: credentials)
    }

    /// Unsigned: the classic flow's first step for unauthenticated identities.
    public func getId(identityPoolId: String, accountId: String?) async throws -> String {
        var body: [String: Any] = ["IdentityPoolId": identityPoolId]
        if let accountId { body["AccountId"] = accountId }
        let answer = try await perform(operation: "GetId", body: body, signed: false)
        return try Self.string(answer, "IdentityId", operation: "GetId")
    }

    /// Unsigned.
    public func getOpenIdToken(identityId: String) async throws -> String {
        let answer = try await perform(operation: "GetOpenIdToken", body: ["IdentityId": identityId], signed: false)
        return try Self.string(answer, "Token", operation: "GetOpenIdToken")
    }

    /// Signed with the broker's credentials; creates the user's identity on first use.
    public func getOpenIdTokenForDeveloperIdentity(identityPoolId: String, logins: [String: String], tokenDuration: Int?) async throws -> (identityId: String, token: String) {
        var body: [String: Any] = ["IdentityPoolId": identityPoolId, "Logins": logins]
        if let tokenDuration { body["TokenDuration"] = tokenDuration }
        let operation = "GetOpenIdTokenForDeveloperIdentity"
        let answer = try await perform(operation: operation, body: body, signed: true)
        return (try Self.string(answer, "IdentityId", operation: operation), try Self.string(answer, "Token", operation: operation))
    }

    private func perform(operation: String, body: [String: Any], signed: Bool) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let response = try await service.post(
            operation: operation,
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AWSCognitoIdentityService.\(operation)")],
            body: Array(data), signed: signed, parseError: Self.parseError
        )
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw MintingError.malformedResponse(operation: operation, detail: "the answer is not a JSON object")
        }
        return object
    }

    private static func string(_ object: [String: Any], _ key: String, operation: String) throws -> String {
        guard let value = object[key] as? String, !value.isEmpty else {
            throw MintingError.malformedResponse(operation: operation, detail: "no \(key) in the answer")
        }
        return value
    }

    /// `{"__type": "com.amazonaws...#NotAuthorizedException", "message": "..."}`: the code is after the `#`.
    @Sendable static func parseError(_ response: TransportResponse) -> (code: String, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let type = (object["__type"] as? String) ?? response.header("x-amzn-ErrorType")
        else { return nil }
        let code = String(type.split(separator: "#").last ?? Substring(type)).split(separator: ":").first.map(String.init) ?? type
        let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
        return (code, message)
    }
}
