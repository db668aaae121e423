import AWSSigV4
import Foundation
import Minting
import Revocation
import TestSupport
import Testing

/// Revocation through IAM's Query protocol against moto (GetRole, GetRolePolicy, PutRolePolicy), IAM's errors
/// from a scripted endpoint, and `consolegate revoke` as operators run it.
@Suite(.serialized) struct SessionRevokerTests {
    let standIns: StandIns
    let transport = AsyncHTTPTransport(environment: [:])
    /// People of this run only: moto's roles are shared with the other suites.
    let tag = "r\(UInt32.random(in: 1000...999_999))"

    init() throws {
        standIns = try StandIns.load()
    }

    var broker: StaticCredentialProvider { StaticCredentialProvider(AWSCredentials(accessKeyId: "AKIDBROKERTEST", secretAccessKey: "broker-secret")) }

    func iam(_ url: String) -> IAMClient {
        IAMClient(endpoint: URL(string: url)!, signingRegion: "us-east-1", transport: transport, retry: RetryPolicy(maxAttempts: 2, jitter: { 0 }),
                  timeout: .seconds(10), credentials: broker)
    }

    func stored(_ roleName: String) async throws -> RevocationPolicy {
        try RevocationPolicy(document: try await iam(standIns.motoURL).rolePolicy(roleName: roleName, policyName: RevocationPolicy.name))
    }

    @Test func aRevocationIsStoredAndASecondOneMerges() async throws {
        let role = try #require(standIns.roles["ConsoleBilling"])
        let revoker = SessionRevoker(iam: iam(standIns.motoURL))
        let roleId = try await iam(standIns.motoURL).roleId(roleName: "ConsoleBilling")
        #expect(roleId.hasPrefix("AROA"))
        let first = Date()
        let alice = try await revoker.revoke(roleArn: role, sessionNames: ["\(tag)-alice"], now: first)
        #expect(alice.userIds == ["\(roleId):\(tag)-alice"])
        #expect(!alice.collapsedToEveryone)
        let second = first.addingTimeInterval(5)
        _ = try await revoker.revoke(roleArn: role, sessionNames: ["\(tag)-bob"], now: second)
        let policy = try await stored("ConsoleBilling")
        #expect(policy.denies(userIds: ["\(roleId):\(tag)-alice"], issuedBefore: first))
        #expect(policy.denies(userIds: ["\(roleId):\(tag)-bob"], issuedBefore: second))
        #expect(!policy.denies(userIds: ["\(roleId):\(tag)-carol"], issuedBefore: first))
        #expect(policy.size <= RevocationPolicy.sizeBudget)
    }

    /// Credentials minted before the revocation: their `aws:userid`, as STS reports it, is the one the
    /// statement names; another person's is not.
    @Test func theStatementMatchesTheUserIdOfMintedCredentials() async throws {
        let role = try #require(standIns.roles["ConsoleReadOnly"])
        let sts = STSClient(endpoint: URL(string: standIns.motoURL)!, region: "us-east-1", transport: transport, retry: RetryPolicy(), timeout: .seconds(10), credentials: broker)
        func userId(of person: String) async throws -> String {
            let session = try await sts.assumeRole(roleArn: role, sessionName: SessionName.encode(person), sourceIdentity: nil, tags: [], durationSeconds: 900)
            return try await STSClient(endpoint: URL(string: standIns.motoURL)!, region: "us-east-1", transport: transport, retry: RetryPolicy(), timeout: .seconds(10),
                                       credentials: StaticCredentialProvider(session.credentials)).getCallerIdentity().userId
        }
        let aliceId = try await userId(of: "\(tag)-alice")
        let bobId = try await userId(of: "\(tag)-bob")
        let revokedAt = Date().addingTimeInterval(1)
        let outcome = try await SessionRevoker(iam: iam(standIns.motoURL)).revoke(roleArn: role, sessionNames: [SessionName.encode("\(tag)-alice")], now: revokedAt)
        #expect(outcome.userIds == [aliceId])
        let policy = try await stored("ConsoleReadOnly")
        #expect(policy.denies(userIds: [aliceId], issuedBefore: revokedAt))
        #expect(!policy.denies(userIds: [bobId], issuedBefore: revokedAt))
    }

    @Test func aRoleIAMDoesNotKnowIsNoSuchEntity() async throws {
        await #expect(throws: MintingError.self) {
            _ = try await SessionRevoker(iam: iam(standIns.motoURL)).revoke(roleArn: "arn:aws:iam::123456789012:role/NoSuchRole-\(tag)", sessionNames: ["x1"], now: Date())
        }
        do {
            _ = try await iam(standIns.motoURL).roleId(roleName: "NoSuchRole-\(tag)")
        } catch MintingError.awsRefused(let operation, let code, _) {
            #expect(operation == "GetRole")
            #expect(code == "NoSuchEntity")
        }
    }

    /// AccessDenied is refused at once; Throttling is retried, then reported with its code.
    @Test func iamRefusalsCarryTheirCode() async throws {
        for (status, code) in [(403, "AccessDenied"), (400, "Throttling")] {
            let server = try await TestHTTPServer { _ in
                .respond(status: status, headers: [("Content-Type", "text/xml")], body: """
                    <ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>\(code)</Code>\
                    <Message>refused by the test</Message></Error><RequestId>1</RequestId></ErrorResponse>
                    """)
            }
            defer { Task { await server.shutdown() } }
            await #expect(throws: MintingError.awsRefused(operation: "GetRole", code: code, message: "refused by the test")) {
                _ = try await SessionRevoker(iam: iam(server.url.absoluteString)).revoke(roleArn: "arn:aws:iam::123456789012:role/X", sessionNames: ["x1"], now: Date())
            }
        }
    }

    /// 500 revocations of different people on one role in moto, one every two minutes of a made-up clock:
    /// the stored policy stays within the budget, and the latest person is always denied.
    @Test func fiveHundredRevocationsInIAMStayWithinTheLimit() async throws {
        // A role of its own: the policy ends up denying everyone's older sessions, which would blur the
        // other tests' checks of who is denied.
        let role = try #require(standIns.roles["ConsoleRevocations"])
        let revoker = SessionRevoker(iam: iam(standIns.motoURL))
        let roleId = try await iam(standIns.motoURL).roleId(roleName: "ConsoleRevocations")
        let start = Date()
        var largest = 0
        for index in 0..<500 {
            let now = start.addingTimeInterval(Double(index) * 120)
            let outcome = try await revoker.revoke(roleArn: role, sessionNames: ["\(tag)-u\(index)"], now: now)
            largest = max(largest, outcome.size)
            if index % 50 == 49 {
                let policy = try await stored("ConsoleRevocations")
                #expect(policy.denies(userIds: ["\(roleId):\(tag)-u\(index)"], issuedBefore: now))
            }
        }
        #expect(largest <= RevocationPolicy.sizeBudget)
        #expect(try await stored("ConsoleRevocations").size <= RevocationPolicy.sizeBudget)
    }

    /// The command's exits for IAM's refusals: 3 with the code named.
    @Test func theCommandExitsClearlyOnIAMRefusals() async throws {
        for (status, code) in [(403, "AccessDenied"), (400, "Throttling")] {
            let server = try await TestHTTPServer { _ in
                .respond(status: status, headers: [("Content-Type", "text/xml")], body: """
                    <ErrorResponse><Error><Type>Sender</Type><Code>\(code)</Code><Message>refused by the test</Message></Error></ErrorResponse>
                    """)
            }
            defer { Task { await server.shutdown() } }
            let config = try ConsoleGateProcess.writeConfig("""
                aws:
                  region: us-east-1
                  strategy: assume-role
                audit:
                  file: /nonexistent-consolegate-audit/audit.jsonl
                """)
            var environment = standIns.brokerEnvironment
            environment["AWS_ENDPOINT_URL_IAM"] = server.url.absoluteString
            let result = try await ConsoleGateProcess.run(["revoke", "--config", config, "--user", "x1", "--role", "arn:aws:iam::123456789012:role/X"],
                                                          environment: environment)
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stderr.contains(code))
        }
    }

    /// The command: roles from the audit trail, a revoked line per role, and clear exits for what it cannot do.
    @Test func theCommandRevokesTheRolesOfTheTrailAndAuditsIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-revoke-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // As in a deployment, the audit directory and file are the service user's; root writes as that user.
        let auditDirectory = directory.appendingPathComponent("audit")
        try FileManager.default.createDirectory(at: auditDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o750])
        let audit = auditDirectory.appendingPathComponent("audit.jsonl").path
        let admin = try #require(standIns.roles["ConsoleAdmin"])
        let recent = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-600))
        let old = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-13 * 3600))
        try """
        {"client":"127.0.0.1","front_end":"api","outcome":"success","request_id":"a","role":"\(admin)","session_name":"\(tag)-dana","time":"\(recent)","user":"\(tag)-dana"}
        {"client":"127.0.0.1","front_end":"api","outcome":"success","request_id":"b","role":"\(standIns.roles["ConsoleBilling"]!)","session_name":"\(tag)-dana","time":"\(old)","user":"\(tag)-dana"}

        """.write(toFile: audit, atomically: true, encoding: .utf8)
        try ServiceUser.whenRoot()?.own(auditDirectory.path)
        try ServiceUser.whenRoot()?.own(audit)
        let config = try ConsoleGateProcess.writeConfig("""
            aws:
              region: us-east-1
              strategy: assume-role
              signin_endpoint: \(standIns.federationURL)
            access:
              - role: \(admin)
                users: [\(tag)-dana]
            audit:
              file: \(audit)
            """)
        let revoked = try await ConsoleGateProcess.run(["revoke", "--config", config, "--user", "\(tag)-dana"], environment: standIns.brokerEnvironment)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(revoked.stdout.contains(admin))
        #expect(!revoked.stdout.contains("ConsoleBilling"))
        let lines = try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])
        #expect(record["outcome"] as? String == "revoked")
        #expect(record["user"] as? String == "\(tag)-dana")
        #expect(record["role"] as? String == admin)
        #expect(record["front_end"] as? String == "cli")
        #expect((record["detail"] as? String)?.contains("revoked by") == true)
        let roleId = try await iam(standIns.motoURL).roleId(roleName: "ConsoleAdmin")
        #expect(try await stored("ConsoleAdmin").denies(userIds: ["\(roleId):\(tag)-dana"], issuedBefore: Date().addingTimeInterval(-5)))

        let nobody = try await ConsoleGateProcess.run(["revoke", "--config", config, "--user", "\(tag)-erin"], environment: standIns.brokerEnvironment)
        #expect(nobody.status == 2)
        #expect(nobody.stderr.contains("no sign-in of \(tag)-erin"))
        let unknown = try await ConsoleGateProcess.run(["revoke", "--config", config, "--user", "\(tag)-dana", "--role", "arn:aws:iam::123456789012:role/Gone-\(tag)"],
                                                       environment: standIns.brokerEnvironment)
        #expect(unknown.status == 3)
        #expect(unknown.stderr.contains("NoSuchEntity"))
        let usage = try await ConsoleGateProcess.run(["revoke", "--config", config, "--all"], environment: standIns.brokerEnvironment)
        #expect(usage.status == 2)
    }
}
