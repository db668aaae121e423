import AWSSigV4
import Foundation
@testable import Minting
import Synchronization
import TestSupport
import Testing

/// The standard retry mode against scripted loopback servers, and the CLI's exit codes for refusals and outages.
@Suite struct UpstreamFailureTests {
    static let credentialsXML = """
    <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
    <Credentials><AccessKeyId>ASIATEST</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken>
    <Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/R/alice</Arn></AssumedRoleUser>
    </AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>
    """

    static func errorXML(_ code: String) -> String {
        "<ErrorResponse><Error><Type>Sender</Type><Code>\(code)</Code><Message>\(code) happened</Message></Error><RequestId>1</RequestId></ErrorResponse>"
    }

    /// Answers `failure` for the first `count` requests, then succeeds.
    static func flakyServer(count: Int, failure: TestHTTPServer.Reply) async throws -> TestHTTPServer {
        let seen = Counter()
        return try await TestHTTPServer { _ in
            seen.increment() <= count ? failure : .respond(status: 200, body: credentialsXML)
        }
    }

    func sts(_ server: TestHTTPServer, timeout: Duration = .seconds(5)) -> STSClient {
        STSClient(endpoint: server.url, region: "us-east-1", transport: AsyncHTTPTransport(environment: [:]),
                  retry: RetryPolicy(jitter: { 0 }), timeout: timeout, credentials: nil)
    }

    func assume(_ client: STSClient) async throws -> STSClient.Session {
        try await client.assumeRoleWithWebIdentity(roleArn: "arn:aws:iam::123456789012:role/R", sessionName: "alice", webIdentityToken: "t", durationSeconds: nil)
    }

    @Test(arguments: [
        TestHTTPServer.Reply.respond(status: 503, body: "<html>unavailable</html>"),
        TestHTTPServer.Reply.respond(status: 400, body: errorXML("Throttling")),
        TestHTTPServer.Reply.respond(status: 400, body: errorXML("IDPCommunicationError")),
    ])
    func retriesTransientFailuresUpToThreeAttempts(failure: TestHTTPServer.Reply) async throws {
        let server = try await Self.flakyServer(count: 2, failure: failure)
        defer { Task { await server.shutdown() } }
        let session = try await assume(sts(server))
        #expect(session.credentials.accessKeyId == "ASIATEST")
        #expect(server.requests.count == 3)
    }

    @Test func givesUpAfterThreeAttempts() async throws {
        let server = try await Self.flakyServer(count: 3, failure: .respond(status: 503))
        defer { Task { await server.shutdown() } }
        await #expect(throws: MintingError.upstreamUnavailable(operation: "AssumeRoleWithWebIdentity", reason: "HTTP 503 after 3 attempts")) {
            try await assume(sts(server))
        }
        #expect(server.requests.count == 3)
    }

    @Test func exhaustedThrottlingIsReportedWithItsCode() async throws {
        let server = try await Self.flakyServer(count: 3, failure: .respond(status: 400, body: Self.errorXML("Throttling")))
        defer { Task { await server.shutdown() } }
        await #expect(throws: MintingError.awsRefused(operation: "AssumeRoleWithWebIdentity", code: "Throttling", message: "Throttling happened")) {
            try await assume(sts(server))
        }
        #expect(server.requests.count == 3)
    }

    @Test(arguments: ["AccessDenied", "ValidationError", "InvalidIdentityToken"])
    func neverRetriesRefusals(code: String) async throws {
        let server = try await Self.flakyServer(count: 1, failure: .respond(status: 403, body: Self.errorXML(code)))
        defer { Task { await server.shutdown() } }
        await #expect(throws: MintingError.awsRefused(operation: "AssumeRoleWithWebIdentity", code: code, message: "\(code) happened")) {
            try await assume(sts(server))
        }
        #expect(server.requests.count == 1)
    }

    @Test func cognitoErrorsNameTheCodeAfterTheHash() async throws {
        let server = try await TestHTTPServer { _ in
            .respond(status: 400, headers: [("Content-Type", "application/x-amz-json-1.1")],
                     body: #"{"__type":"com.amazonaws.cognito.identity.model#NotAuthorizedException","message":"Access to Identity is forbidden"}"#)
        }
        defer { Task { await server.shutdown() } }
        let cognito = CognitoIdentityClient(endpoint: server.url, region: "us-east-1", transport: AsyncHTTPTransport(environment: [:]),
                                            retry: RetryPolicy(jitter: { 0 }), timeout: .seconds(5), credentials: nil)
        await #expect(throws: MintingError.awsRefused(operation: "GetId", code: "NotAuthorizedException", message: "Access to Identity is forbidden")) {
            _ = try await cognito.getId(identityPoolId: "us-east-1:1", accountId: nil)
        }
    }

    @Test func federationEndpointIsRetriedOn5xx() async throws {
        let seen = Counter()
        let server = try await TestHTTPServer { _ in
            seen.increment() <= 2 ? .respond(status: 502) : .respond(status: 200, body: #"{"SigninToken":"tok"}"#)
        }
        defer { Task { await server.shutdown() } }
        let federation = FederationClient(endpoint: server.url.appendingPathComponent("federation"), transport: AsyncHTTPTransport(environment: [:]),
                                          retry: RetryPolicy(jitter: { 0 }), timeout: .seconds(5))
        let credentials = AWSCredentialsFixture.temporary
        #expect(try await federation.getSigninToken(credentials: credentials, sessionDuration: 900) == "tok")
        #expect(server.requests.count == 3)
        let body = try #require(server.requests.last?.body)
        #expect(body.hasPrefix("Action=getSigninToken&Session="))
        #expect(body.hasSuffix("&SessionDuration=900"))
    }

    @Test func federationRefusalIsNotRetried() async throws {
        let server = try await TestHTTPServer { _ in .respond(status: 400, body: "<html><body>400 Bad Request</body></html>") }
        defer { Task { await server.shutdown() } }
        let federation = FederationClient(endpoint: server.url, transport: AsyncHTTPTransport(environment: [:]), retry: RetryPolicy(jitter: { 0 }), timeout: .seconds(5))
        await #expect(throws: MintingError.self) {
            _ = try await federation.getSigninToken(credentials: AWSCredentialsFixture.temporary, sessionDuration: nil)
        }
        #expect(server.requests.count == 1)
    }

    @Test func backoffIsFullJitterCappedAtTwentySeconds() {
        let top = RetryPolicy(jitter: { 0.999_999 })
        #expect(top.delay(afterAttempt: 1) <= .seconds(1))
        #expect(top.delay(afterAttempt: 2) <= .seconds(2))
        #expect(top.delay(afterAttempt: 2) > .seconds(1))
        #expect(top.delay(afterAttempt: 10) <= .seconds(20))
        #expect(top.delay(afterAttempt: 10) > .seconds(19))
        #expect(RetryPolicy(jitter: { 0 }).delay(afterAttempt: 5) == .zero)
    }

    // MARK: - The CLI's exit codes

    func mintConfig(endpoint: URL, timeout: String = "10s") throws -> String {
        try ConsoleGateProcess.writeConfig("""
        aws:
          strategy: cognito-unauthenticated
          request_timeout: \(timeout)
          cognito:
            identity_pool_id: us-east-1:00000000-0000-0000-0000-000000000000
          signin_endpoint: \(endpoint.absoluteString)/federation
        access:
          - role: arn:aws:iam::123456789012:role/ConsoleReadOnly
            users: [alice]
        """)
    }

    @Test func serverThatNeverAnswersIsCutOffWithExitCode4() async throws {
        let server = try await TestHTTPServer { _ in .hang }
        defer { Task { await server.shutdown() } }
        let config = try mintConfig(endpoint: server.url, timeout: "1s")
        let started = ContinuousClock.now
        let result = try await ConsoleGateProcess.run(["mint", "--config", config, "--user", "alice"],
                                                      environment: ["AWS_ENDPOINT_URL": server.url.absoluteString, "AWS_EC2_METADATA_DISABLED": "true"])
        let elapsed = ContinuousClock.now - started
        #expect(result.status == 4)
        #expect(result.stderr.contains("unavailable"))
        #expect(result.stdout.isEmpty)
        #expect(server.requests.count == 3)
        // Three 1 s deadlines plus at most 1 s + 2 s of backoff.
        #expect(elapsed < .seconds(8))
    }

    @Test func awsRefusalIsExitCode3NamingTheCode() async throws {
        let server = try await TestHTTPServer { _ in
            .respond(status: 400, body: #"{"__type":"ResourceNotFoundException","message":"IdentityPool 'us-east-1:0' not found."}"#)
        }
        defer { Task { await server.shutdown() } }
        let config = try mintConfig(endpoint: server.url)
        let result = try await ConsoleGateProcess.run(["mint", "--config", config, "--user", "alice"],
                                                      environment: ["AWS_ENDPOINT_URL": server.url.absoluteString, "AWS_EC2_METADATA_DISABLED": "true"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("ResourceNotFoundException"))
    }

    @Test func unreachableEndpointIsExitCode4() async throws {
        let closed = ClosedPort()
        let closedURL = URL(string: "http://127.0.0.1:\(closed.port)")!
        defer { withExtendedLifetime(closed) {} }
        let config = try mintConfig(endpoint: closedURL)
        let result = try await ConsoleGateProcess.run(["mint", "--config", config, "--user", "alice"],
                                                      environment: ["AWS_ENDPOINT_URL": closedURL.absoluteString, "AWS_EC2_METADATA_DISABLED": "true"])
        #expect(result.status == 4)
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}


enum AWSCredentialsFixture {
    static let temporary = AWSCredentials(accessKeyId: "ASIATEST", secretAccessKey: "secret", sessionToken: "token")
}
