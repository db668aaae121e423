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
        struct Request: Encodable {
            var IdentityPoolId: String
            var AccountId: String?
        }
        struct Answer: Decodable { var IdentityId: String? }
        let answer = try await perform("GetId", Request(IdentityPoolId: identityPoolId, AccountId: accountId), Answer.self, signed: false)
        return try Self.nonEmpty(answer.IdentityId, "IdentityId", operation: "GetId")
    }

    /// Unsigned.
    public func getOpenIdToken(identityId: String) async throws -> String {
        struct Request: Encodable { var IdentityId: String }
        struct Answer: Decodable { var Token: String? }
        let answer = try await perform("GetOpenIdToken", Request(IdentityId: identityId), Answer.self, signed: false)
        return try Self.nonEmpty(answer.Token, "Token", operation: "GetOpenIdToken")
    }

    /// Signed with the broker's credentials; creates the user's identity on first use.
    public func getOpenIdTokenForDeveloperIdentity(identityPoolId: String, logins: [String: String], tokenDuration: Int?) async throws -> (identityId: String, token: String) {
        struct Request: Encodable {
            var IdentityPoolId: String
            var Logins: [String: String]
            var TokenDuration: Int?
        }
        struct Answer: Decodable {
            var IdentityId: String?
            var Token: String?
        }
        let operation = "GetOpenIdTokenForDeveloperIdentity"
        let answer = try await perform(operation, Request(IdentityPoolId: identityPoolId, Logins: logins, TokenDuration: tokenDuration), Answer.self, signed: true)
        return (try Self.nonEmpty(answer.IdentityId, "IdentityId", operation: operation), try Self.nonEmpty(answer.Token, "Token", operation: operation))
    }

    /// JSON 1.1: the request and the answer are JSON objects with the API's member names.
    private func perform<Answer: Decodable>(_ operation: String, _ request: some Encodable, _ answer: Answer.Type, signed: Bool) async throws -> Answer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let response = try await service.post(
            operation: operation,
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AWSCognitoIdentityService.\(operation)")],
            body: Array(try encoder.encode(request)), signed: signed, parseError: Self.parseError
        )
        do {
            return try JSONDecoder().decode(answer, from: Data(response.body))
        } catch {
            throw MintingError.malformedResponse(operation: operation, detail: "the answer is not a JSON object")
        }
    }

    private static func nonEmpty(_ value: String?, _ key: String, operation: String) throws -> String {
        guard let value, !value.isEmpty else { throw MintingError.malformedResponse(operation: operation, detail: "no \(key) in the answer") }
        return value
    }

    /// `{"__type": "com.amazonaws...#NotAuthorizedException", "message": "..."}`: the code is after the `#`.
    @Sendable static func parseError(_ response: TransportResponse) -> (code: String, message: String)? {
        struct Failure: Decodable {
            var __type: String?
            var message: String?
            var Message: String?
        }
        let failure = try? JSONDecoder().decode(Failure.self, from: Data(response.body))
        guard let type = failure?.__type ?? response.header("x-amzn-ErrorType") else { return nil }
        let code = String(type.split(separator: "#").last ?? Substring(type)).split(separator: ":").first.map(String.init) ?? type
        return (code, failure?.message ?? failure?.Message ?? "")
    }
}
