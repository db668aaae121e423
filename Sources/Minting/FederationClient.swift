import AWSSigV4
import Foundation
import Secrets

/// The console federation endpoint: trades temporary credentials for a SigninToken, and builds the login URL.
public struct FederationClient: Sendable {
    let call: AWSCall
    let endpoint: URL

    public init(endpoint: URL, transport: any HTTPTransport, retry: RetryPolicy, timeout: Duration) {
        self.call = AWSCall(transport: transport, retry: retry, timeout: timeout)
        self.endpoint = endpoint
    }

    /// POST with a form body, so the credentials never appear in a URL or an access log.
    public func getSigninToken(credentials: AWSCredentials, sessionDuration: Int?) async throws -> String {
        guard let sessionToken = credentials.sessionToken else {
            throw MintingError.invalidRequest("the console only accepts temporary credentials (with a session token)")
        }
        struct Session: Encodable {
            var sessionId: String
            var sessionKey: String
            var sessionToken: String
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let session = try encoder.encode(Session(sessionId: credentials.accessKeyId, sessionKey: credentials.secretAccessKey, sessionToken: sessionToken))
        var parameters = [("Action", "getSigninToken"), ("Session", String(decoding: session, as: UTF8.self))]
        if let sessionDuration { parameters.append(("SessionDuration", String(sessionDuration))) }
        var body = Array(FormEncoding.encode(parameters).utf8)
        defer { wipe(&body) }
        let request = TransportRequest(method: "POST", url: endpoint, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body, timeout: call.timeout)
        // The endpoint answers a bare HTML 400 without a reason; say what usually causes it.
        let response = try await call.perform(operation: "getSigninToken", request: request, parseError: { _ in nil }, refused: {
            .federationRefused(status: $0.status, detail: "check that the credentials are temporary, not expired, and that SessionDuration is allowed for them")
        })
        struct Answer: Decodable { var SigninToken: String? }
        guard let token = (try? JSONDecoder().decode(Answer.self, from: Data(response.body)))?.SigninToken, !token.isEmpty else {
            throw MintingError.malformedResponse(operation: "getSigninToken", detail: "no SigninToken in the answer")
        }
        return token
    }

    /// Sends the browser through the sign-in service's logout first, so an existing console session does not
    /// stand in the way ("You must first log out") of the new one.
    public func logoutThenLogin(_ login: URL) -> URL {
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        components.path = "/oauth"
        components.percentEncodedQuery = "Action=logout&redirect_uri=\(FormEncoding.escape(login.absoluteString))"
        return components.url!
    }

    public func loginURL(issuer: URL?, destination: URL, signinToken: String) -> URL {
        var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        var items = [URLQueryItem(name: "Action", value: "login")]
        if let issuer { items.append(URLQueryItem(name: "Issuer", value: issuer.absoluteString)) }
        items.append(URLQueryItem(name: "Destination", value: destination.absoluteString))
        items.append(URLQueryItem(name: "SigninToken", value: signinToken))
        components.percentEncodedQuery = items.map { "\($0.name)=\(FormEncoding.escape($0.value ?? ""))" }.joined(separator: "&")
        return components.url!
    }
}
