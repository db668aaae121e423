import AWSSigV4
import Foundation
import Minting
import Testing
import TestSupport

/// `consolegate serve` as deployed: real PAM (pam_wrapper + pam_matrix), NSS groups (nss_wrapper), moto
/// and the federation stand-in. Serialized: pam_wrapper cannot start many wrapped helpers at once.
@Suite(.serialized, .pamWrapperTurn) final class DaemonEndToEndTests {
    let standIns: StandIns
    let daemon: DaemonFixture
    let transport = AsyncHTTPTransport(environment: [:])
    /// The test process's own uid, so `consolegate url` run from here is this user.
    static let socketUser = "dave"

    init() async throws {
        standIns = try StandIns.load()
        daemon = try await DaemonFixture(standIns: standIns, users: [
            .init(name: "alice", password: "alice-pw", uid: 2001, groups: ["staff"]),
            .init(name: "erin", password: "erin-pw", uid: 2002, groups: []),
            .init(name: Self.socketUser, password: "dave-pw", uid: getuid(), groups: ["staff", "aws-admins"]),
        ], access: """
        access:
          - role: \(standIns.roles["ConsoleAdmin"]!)
            groups: [aws-admins]
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            groups: [staff]
          - role: \(standIns.roles["ConsoleBilling"]!)
            groups: [finance]
        admin_group: aws-admins
        """)
    }

    deinit {
        daemon.stop()
    }

    func login(_ body: [String: String]) async throws -> (status: Int, json: [String: Any]) {
        let request = TransportRequest(method: "POST", url: daemon.httpURL.appendingPathComponent("api/v1/login"),
                                       headers: [("Content-Type", "application/json")], body: Array(try JSONSerialization.data(withJSONObject: body)), timeout: .seconds(30))
        let response = try await transport.send(request)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    /// Whose session the sign-in URL carries, as the federation stand-in (asking moto) reports.
    func principal(of url: String) async throws -> String? {
        let response = try await transport.send(TransportRequest(method: "GET", url: URL(string: url)!, timeout: .seconds(10)))
        #expect(response.status == 302)
        return response.header("X-Standin-Principal")
    }

    @Test func apiLoginGetsTheRoleOfTheUsersGroup() async throws {
        let answer = try await login(["username": "alice", "password": "alice-pw"])
        try #require(answer.status == 200, "\(answer.json)")
        #expect(answer.json["role_arn"] as? String == standIns.roles["ConsoleReadOnly"])
        #expect(try await principal(of: answer.json["url"] as! String) == "arn:aws:sts::123456789012:assumed-role/ConsoleReadOnly/alice")
        let audit = try #require(daemon.auditLines.last)
        #expect(audit.contains(#""outcome":"success""#))
        #expect(!audit.contains("alice-pw"))
    }

    @Test func aUserInTwoGroupsMayPickEitherRoleButNotAThird() async throws {
        for role in ["ConsoleAdmin", "ConsoleReadOnly"] {
            let answer = try await login(["username": Self.socketUser, "password": "dave-pw", "role": standIns.roles[role]!])
            try #require(answer.status == 200, "\(answer.json)")
            #expect(try await principal(of: answer.json["url"] as! String) == "arn:aws:sts::123456789012:assumed-role/\(role)/\(Self.socketUser)")
        }
        let refused = try await login(["username": Self.socketUser, "password": "dave-pw", "role": standIns.roles["ConsoleBilling"]!])
        #expect(refused.status == 403)
    }

    @Test func logoutFirstEndsTheConsoleSessionThenSignsIn() async throws {
        let answer = try await login(["username": "alice", "password": "alice-pw", "logout_first": "true"])
        try #require(answer.status == 200, "\(answer.json)")
        let url = try #require(answer.json["url"] as? String)
        #expect(url.contains("/oauth?Action=logout&redirect_uri="))
        let logout = try await transport.send(TransportRequest(method: "GET", url: URL(string: url)!, timeout: .seconds(10)))
        #expect(logout.status == 302)
        #expect(logout.header("X-Standin-Logged-Out") == "true")
        let login = try #require(logout.header("Location"))
        #expect(try await principal(of: login) == "arn:aws:sts::123456789012:assumed-role/ConsoleReadOnly/alice")
    }

    /// /metrics is served on the operators' own listener, and not on the login listener.
    @Test func metricsCountLoginsOnTheirOwnListener() async throws {
        _ = try await login(["username": "alice", "password": "alice-pw"])
        _ = try await login(["username": "alice", "password": "wrong"])
        let onLoginListener = try await transport.send(TransportRequest(method: "GET", url: daemon.httpURL.appendingPathComponent("metrics"), timeout: .seconds(10)))
        #expect(onLoginListener.status == 404)
        let response = try await transport.send(TransportRequest(method: "GET", url: daemon.metricsURL.appendingPathComponent("metrics"), timeout: .seconds(10)))
        let text = response.bodyText
        #expect(text.contains(#"consolegate_logins_total{front_end="api",outcome="success"} 1"#))
        #expect(text.contains(#"consolegate_logins_total{front_end="api",outcome="authentication_failed"} 1"#))
        #expect(text.contains("consolegate_upstream_request_duration_seconds_count{operation=\"AssumeRoleWithWebIdentity\"} 1"))
        #expect(text.contains("consolegate_pam_helper_duration_seconds_count 2"))
    }

    /// `consolegate unlock` through the socket, by a member of admin_group (this test's own user), audited.
    @Test func anOperatorUnlocksAUserThroughTheSocket() async throws {
        for _ in 1...5 { _ = try await login(["username": "alice", "password": "wrong"]) }
        #expect(try await login(["username": "alice", "password": "alice-pw"]).status == 429)
        let result = try await ConsoleGateProcess.run(["unlock", "alice", "--socket", daemon.socketPath], environment: [:])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "unlocked user:alice\n")
        #expect(try await login(["username": "alice", "password": "alice-pw"]).status == 200)
        #expect(daemon.auditLines.contains { $0.contains(#""outcome":"unlocked""#) && $0.contains(#""detail":"unlocked user:alice""#) })
    }

    /// `consolegate revoke --through-daemon` by a member of admin_group: the daemon, with its broker's
    /// credentials, ends the sessions on the roles its trail shows for the person, and audits it.
    @Test func anOperatorRevokesSessionsThroughTheSocket() async throws {
        let signIn = try await ConsoleGateProcess.run(["url", "--socket", daemon.socketPath], environment: [:])
        #expect(signIn.status == 0, "\(signIn.stderr)")
        let admin = try #require(standIns.roles["ConsoleAdmin"])
        let result = try await ConsoleGateProcess.run(["revoke", "--through-daemon", "--socket", daemon.socketPath, "--user", Self.socketUser], environment: [:])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("\(admin): revoked by \(Self.socketUser)"))
        let record = try #require(daemon.auditLines.last { $0.contains(#""outcome":"revoked""#) })
        #expect(record.contains(#""front_end":"socket""#) && record.contains(#""session_name":"\#(Self.socketUser)""#) && record.contains(admin))
        let iam = IAMClient(endpoint: URL(string: standIns.motoURL)!, signingRegion: "us-east-1", transport: transport, retry: RetryPolicy(), timeout: .seconds(10),
                            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: "x", secretAccessKey: "y")))
        let document = try #require(try await iam.rolePolicy(roleName: "ConsoleAdmin", policyName: "ConsoleGateRevocations"))
        #expect(document.contains(":\(Self.socketUser)\""))
        let nobody = try await ConsoleGateProcess.run(["revoke", "--through-daemon", "--socket", daemon.socketPath, "--user", "nobody-signed-in"], environment: [:])
        #expect(nobody.status == 2)
        #expect(nobody.stderr.contains("no sign-in of nobody-signed-in"))
    }

    /// The daemon cannot start a root monitor again: when the monitor dies, the daemon stops, non-zero.
    @Test func aKilledMonitorTakesTheDaemonWithIt() async throws {
        let monitor = try #require(ProcessTable.parents().first { $0.value.parent == daemon.process.processIdentifier && $0.value.command == "consolegate-pam" }?.key)
        kill(monitor, SIGKILL)
        let exited = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [daemon] in
                daemon.process.waitUntilExit()
                continuation.resume(returning: daemon.process.terminationStatus)
            }
        }
        #expect(exited == 4)
        #expect(daemon.logText.contains("the PAM monitor exited"))
    }

    @Test func wrongPasswordUnknownUserAndNoRole() async throws {
        let wrong = try await login(["username": "alice", "password": "nope"])
        let unknown = try await login(["username": "zed", "password": "nope"])
        #expect(wrong.status == 401)
        #expect(unknown.status == 401)
        #expect(wrong.json["error"] as? String == unknown.json["error"] as? String)
        // No access rule names erin: her right password fails alike, and PAM does not run for her.
        let noRule = try await login(["username": "erin", "password": "erin-pw"])
        #expect(noRule.status == 401)
        #expect(noRule.json["error"] as? String == wrong.json["error"] as? String)
        #expect(daemon.auditLines.last?.contains("PAM not run") == true)
    }

    @Test func socketGivesTheCallingUserTheirRole() async throws {
        let result = try await ConsoleGateProcess.run(["url", "--socket", daemon.socketPath], environment: [:])
        try #require(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(try await principal(of: String(lines[0])) == "arn:aws:sts::123456789012:assumed-role/ConsoleAdmin/\(Self.socketUser)")
        #expect(daemon.auditLines.last?.contains(#""front_end":"socket""#) == true)
    }

    @Test func socketRefusesARoleNotAllowed() async throws {
        let result = try await ConsoleGateProcess.run(["url", "--socket", daemon.socketPath, "--role", standIns.roles["ConsoleBilling"]!], environment: [:])
        #expect(result.status == 3)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("you may not take the role \(standIns.roles["ConsoleBilling"]!)"))
    }

    @Test func sshOriginalCommandIsLimitedToTheUserOptions() async throws {
        let json = try await ConsoleGateProcess.run(["url", "--socket", daemon.socketPath],
                                                    environment: ["SSH_ORIGINAL_COMMAND": "url --role \(standIns.roles["ConsoleReadOnly"]!) --format json"])
        try #require(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["role_arn"] as? String == standIns.roles["ConsoleReadOnly"])
        let refused = try await ConsoleGateProcess.run(["url", "--socket", daemon.socketPath], environment: ["SSH_ORIGINAL_COMMAND": "url --socket /tmp/other.sock"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("usage: url"))
        #expect(refused.stdout.isEmpty)
    }
}
