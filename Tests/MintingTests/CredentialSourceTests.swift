import AWSSigV4
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import Minting

/// Each broker credential source against a loopback stand-in, and the cache in front of them.
@Suite struct CredentialSourceTests {
    let transport = AsyncHTTPTransport(environment: [:])
    /// A path that certainly does not exist (some tools create /nonexistent as a home directory).
    static let missing = "/nonexistent-consolegate-\(UUID().uuidString)"

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func environment() async throws {
        let found = try await EnvironmentCredentialSource(environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"]).resolve()
        #expect(found == AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "t"))
        #expect(try await EnvironmentCredentialSource(environment: [:]).resolve() == nil)
        await #expect(throws: MintingError.self) { try await EnvironmentCredentialSource(environment: ["AWS_ACCESS_KEY_ID": "AKID"]).resolve() }
    }

    @Test func sharedFilesWithProfiles() async throws {
        let dir = try temporaryDirectory()
        let credentials = dir.appendingPathComponent("credentials").path
        let config = dir.appendingPathComponent("config").path
        try """
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = default-secret
        # a comment
        [broker]
        aws_access_key_id=AKIDBROKER
        aws_secret_access_key=broker-secret
        aws_session_token=broker-token
        """.write(toFile: credentials, atomically: true, encoding: .utf8)
        try """
        [profile process]
        credential_process = printf '{"Version": 1, "AccessKeyId": "AKIDPROCESS", "SecretAccessKey": "process-secret", "SessionToken": "process-token", "Expiration": "2031-01-01T00:00:00Z"}'
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let base = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config]

        #expect(try await ProfileCredentialSource(environment: base).resolve()?.accessKeyId == "AKIDDEFAULT")
        let broker = try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "broker"]) { $1 }).resolve()
        #expect(broker == AWSCredentials(accessKeyId: "AKIDBROKER", secretAccessKey: "broker-secret", sessionToken: "broker-token"))
        let process = try #require(try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "process"]) { $1 }).resolve())
        #expect(process.accessKeyId == "AKIDPROCESS")
        #expect(process.sessionToken == "process-token")
        #expect(process.expiration == ISO8601.parse("2031-01-01T00:00:00Z"))
        await #expect(throws: MintingError.self) {
            try await ProfileCredentialSource(environment: base.merging(["AWS_PROFILE": "missing"]) { $1 }).resolve()
        }
    }

    @Test func credentialProcessFailureIsReported() async throws {
        let dir = try temporaryDirectory()
        let config = dir.appendingPathComponent("config").path
        try "[default]\ncredential_process = sh -c 'echo broken; exit 3'\n".write(toFile: config, atomically: true, encoding: .utf8)
        await #expect(throws: MintingError.brokerCredentials(source: "profile default", problem: "credential_process exited with status 3")) {
            try await ProfileCredentialSource(environment: ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": Self.missing]).resolve()
        }
    }

    @Test func webIdentityAgainstMoto() async throws {
        let standIns = try StandIns.load()
        let dir = try temporaryDirectory()
        let tokenFile = dir.appendingPathComponent("token").path
        try "eyJhbGciOiJSUzI1NiJ9.e30.signature\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let sts = STSClient(endpoint: URL(string: standIns.motoURL)!, region: "us-east-1", transport: transport, retry: RetryPolicy(), timeout: .seconds(10), credentials: nil)
        let source = WebIdentityCredentialSource(environment: [
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": standIns.roles["ConsoleAdmin"]!, "AWS_ROLE_SESSION_NAME": "broker-pod",
        ], sts: sts)
        let credentials = try #require(try await source.resolve())
        #expect(credentials.isTemporary)
        let caller = try await STSClient(endpoint: URL(string: standIns.motoURL)!, region: "us-east-1", transport: transport, retry: RetryPolicy(),
                                         timeout: .seconds(10), credentials: StaticCredentialProvider(credentials)).getCallerIdentity()
        #expect(caller.arn == "arn:aws:sts::123456789012:assumed-role/ConsoleAdmin/broker-pod")
        #expect(try await WebIdentityCredentialSource(environment: [:], sts: sts).resolve() == nil)
    }

    static let document = #"{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"container-secret","Token":"container-token","Expiration":"2031-01-01T00:00:00Z"}"#

    @Test func containerCredentialsWithAuthorizationToken() async throws {
        let server = try await TestHTTPServer { request in
            request.uri == "/v2/credentials/abc" && request.header("Authorization") == "secret-auth"
                ? .respond(status: 200, body: Self.document) : .respond(status: 401)
        }
        defer { Task { await server.shutdown() } }
        let dir = try temporaryDirectory()
        let tokenFile = dir.appendingPathComponent("auth").path
        try "secret-auth\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let full = "\(server.url.absoluteString)/v2/credentials/abc"
        let fromFile = try await ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": full, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile], transport: transport).resolve()
        #expect(fromFile?.accessKeyId == "ASIACONTAINER")
        #expect(fromFile?.sessionToken == "container-token")
        let fromVariable = try await ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": full, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-auth"], transport: transport).resolve()
        #expect(fromVariable?.accessKeyId == "ASIACONTAINER")
        await #expect(throws: MintingError.self) {
            try await ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": full], transport: transport).resolve()
        }
    }

    @Test func containerFullURIMustBeLocalOrHTTPS() {
        #expect(ContainerCredentialSource.isAllowed(URL(string: "http://127.0.0.1:51679/creds")!))
        #expect(ContainerCredentialSource.isAllowed(URL(string: "http://169.254.170.23/v1/credentials")!))
        #expect(ContainerCredentialSource.isAllowed(URL(string: "https://creds.example.com/")!))
        #expect(!ContainerCredentialSource.isAllowed(URL(string: "http://creds.example.com/")!))
    }

    @Test func instanceMetadataV2() async throws {
        let server = try await TestHTTPServer { request in
            switch (request.method, request.uri) {
            case ("PUT", "/latest/api/token"):
                return request.header("X-aws-ec2-metadata-token-ttl-seconds") == "21600" ? .respond(status: 200, body: "imds-session") : .respond(status: 400)
            case (_, _) where request.header("X-aws-ec2-metadata-token") != "imds-session":
                return .respond(status: 401)
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                return .respond(status: 200, body: "BrokerRole\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/BrokerRole"):
                return .respond(status: 200, body: #"{"Code":"Success","AccessKeyId":"ASIAIMDS","SecretAccessKey":"imds-secret","Token":"imds-token","Expiration":"2031-01-01T00:00:00Z"}"#)
            default:
                return .respond(status: 404)
            }
        }
        defer { Task { await server.shutdown() } }
        let found = try await InstanceMetadataCredentialSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url.absoluteString], transport: transport).resolve()
        #expect(found?.accessKeyId == "ASIAIMDS")
        #expect(server.requests.map(\.method) == ["PUT", "GET", "GET"])
        #expect(try await InstanceMetadataCredentialSource(environment: ["AWS_EC2_METADATA_DISABLED": "true"], transport: transport).resolve() == nil)
    }

    @Test func instanceMetadataAbsentMeansNotHere() async throws {
        let server = try await TestHTTPServer { _ in .hang }
        let closed = server.url
        await server.shutdown()
        #expect(try await InstanceMetadataCredentialSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": closed.absoluteString], transport: transport).resolve() == nil)
    }

    @Test func chainTakesTheFirstConfiguredSource() async throws {
        let dir = try temporaryDirectory()
        let credentials = dir.appendingPathComponent("credentials").path
        try "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n".write(toFile: credentials, atomically: true, encoding: .utf8)
        let endpoints = try Endpoints(partition: .aws, region: "us-east-1", environment: [:])
        func chain(_ environment: [String: String]) -> CredentialChain {
            .standard(environment: environment, region: "us-east-1", endpoints: endpoints, transport: transport, retry: RetryPolicy(), timeout: .seconds(1))
        }
        let files = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": Self.missing, "AWS_EC2_METADATA_DISABLED": "true"]
        #expect(try await chain(files.merging(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s"]) { $1 }).resolve()?.accessKeyId == "AKIDENV")
        #expect(try await chain(files).resolve()?.accessKeyId == "AKIDFILE")
        #expect(try await chain(["AWS_SHARED_CREDENTIALS_FILE": Self.missing, "AWS_CONFIG_FILE": Self.missing, "AWS_EC2_METADATA_DISABLED": "true"]).resolve() == nil)
    }

    /// Counts how often it is asked, and hands out credentials expiring at a time the test controls.
    final class CountingSource: CredentialSource {
        let calls = Mutex(0)
        let lifetime: TimeInterval
        let clock: TestClock
        var name: String { "counting" }

        init(lifetime: TimeInterval, clock: TestClock) {
            self.lifetime = lifetime
            self.clock = clock
        }

        func resolve() async throws -> AWSCredentials? {
            let call = calls.withLock { $0 += 1; return $0 }
            await Task.yield()
            return AWSCredentials(accessKeyId: "ASIA\(call)", secretAccessKey: "s", sessionToken: "t", expiration: clock.now().addingTimeInterval(lifetime))
        }
    }

    final class TestClock: Sendable {
        private let current = Mutex(Date(timeIntervalSince1970: 2_000_000_000))
        func now() -> Date { current.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
    }

    @Test func cacheRefreshesBeforeExpiryOnceForConcurrentCallers() async throws {
        let clock = TestClock()
        let source = CountingSource(lifetime: 3600, clock: clock)
        let cache = CachingCredentialProvider(source: source, now: { clock.now() })
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 { group.addTask { try await cache.credentials().accessKeyId } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(keys == ["ASIA1"])
        clock.advance(3600 - CachingCredentialProvider.refreshMargin - 1)
        #expect(try await cache.credentials().accessKeyId == "ASIA1")
        clock.advance(2)
        #expect(try await cache.credentials().accessKeyId == "ASIA2")
        #expect(source.calls.withLock { $0 } == 2)
    }

    @Test func cacheReportsWhenNoSourceHasCredentials() async {
        let cache = CachingCredentialProvider(source: CredentialChain([EnvironmentCredentialSource(environment: [:])]))
        await #expect(throws: MintingError.noBrokerCredentials(tried: ["environment"])) { try await cache.credentials() }
    }
}
