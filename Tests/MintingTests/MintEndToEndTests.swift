import Foundation
import Minting
import TestSupport
import Testing

/// `consolegate mint` against moto and the federation stand-in, one test per strategy: the sign-in token
/// must belong to the right principal and the login URL must land on the Destination.
@Suite struct MintEndToEndTests {
    let standIns: StandIns
    let transport = AsyncHTTPTransport(environment: [:])

    init() throws {
        standIns = try StandIns.load()
    }

    func config(strategy: String, extra: String = "") -> String {
        """
        aws:
          region: us-east-1
          strategy: \(strategy)
          cognito:
            identity_pool_id: \(standIns.identityPoolId)
            account_id: "123456789012"
            developer_provider: \(standIns.developerProvider)
          federation_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}'
          signin_endpoint: \(standIns.federationURL)
          issuer: https://consolegate.example.org/
          session_duration: 2h
        \(extra)
        access:
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            groups: [staff]
            users: [alice]
          - role: \(standIns.roles["ConsoleAdmin"]!)
            users: [alice, carol]
        """
    }

    struct Minted: Decodable {
        var url: String
        var expires_at: String
        var role_arn: String
        var session_name: String
    }

    func mint(strategy: String, arguments: [String]) async throws -> Minted {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: strategy))
        let result = try await ConsoleGateProcess.run(["mint", "--config", path, "--format", "json"] + arguments, environment: standIns.brokerEnvironment)
        try #require(result.status == 0, "mint failed: \(result.stderr)")
        return try JSONDecoder().decode(Minted.self, from: Data(result.stdout.utf8))
    }

    /// Follows the login URL once and reports where it redirects and for whom the token was issued.
    func login(_ url: String) async throws -> (location: String?, principal: String?, sessionDuration: String?) {
        let response = try await transport.send(TransportRequest(method: "GET", url: URL(string: url)!, timeout: .seconds(10)))
        #expect(response.status == 302)
        return (response.header("Location"), response.header("X-Standin-Principal"), response.header("X-Standin-Session-Duration"))
    }

    @Test func cognitoDeveloper() async throws {
        let minted = try await mint(strategy: "cognito-developer", arguments: ["--user", "alice"])
        #expect(minted.role_arn == standIns.roles["ConsoleReadOnly"])
        #expect(minted.session_name == "alice")
        let landing = try await login(minted.url)
        #expect(landing.principal == "arn:aws:sts::123456789012:assumed-role/ConsoleReadOnly/alice")
        #expect(landing.location == "https://console.aws.amazon.com/")
        #expect(landing.sessionDuration == "7200")
    }

    @Test func cognitoUnauthenticatedClassicFlow() async throws {
        let minted = try await mint(strategy: "cognito-unauthenticated", arguments: ["--user", "carol", "--destination", "https://console.aws.amazon.com/ec2/home"])
        let landing = try await login(minted.url)
        #expect(landing.principal == "arn:aws:sts::123456789012:assumed-role/ConsoleAdmin/carol")
        #expect(landing.location == "https://console.aws.amazon.com/ec2/home")
    }

    @Test func assumeRoleWithUnusualUserName() async throws {
        let minted = try await mint(strategy: "assume-role", arguments: ["--user", #"CORP\Zoë Smith"#, "--role", standIns.roles["ConsoleAdmin"]!, "--region", "eu-west-1"])
        #expect(minted.session_name.hasPrefix("CORP-Zoe-Smith-"))
        let landing = try await login(minted.url)
        #expect(landing.principal == "arn:aws:sts::123456789012:assumed-role/ConsoleAdmin/\(minted.session_name)")
        #expect(landing.location == "https://eu-west-1.console.aws.amazon.com/?region=eu-west-1")
    }

    @Test func federationTokenNeverSendsSessionDuration() async throws {
        let minted = try await mint(strategy: "federation-token", arguments: ["--user", "bob", "--role", standIns.roles["ConsoleReadOnly"]!])
        #expect(minted.session_name == "bob")
        let landing = try await login(minted.url)
        #expect(landing.principal == "arn:aws:sts::123456789012:federated-user/bob")
        #expect(landing.sessionDuration == "default")
    }

    @Test func credentialProcessOutputIsVersionOne() async throws {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: "cognito-developer"))
        let result = try await ConsoleGateProcess.run(["mint", "--config", path, "--user", "alice", "--format", "credential-process"], environment: standIns.brokerEnvironment)
        try #require(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["Version"] as? Int == 1)
        #expect((object["AccessKeyId"] as? String)?.isEmpty == false)
        #expect(object["SessionToken"] is String)
        #expect(object["Expiration"] is String)
    }

    @Test func plainFormatPrintsOnlyTheURL() async throws {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: "cognito-developer"))
        let result = try await ConsoleGateProcess.run(["mint", "--config", path, "--user", "alice"], environment: standIns.brokerEnvironment)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix(standIns.federationURL + "?Action=login&") == true)
    }

    @Test func userWithoutRuleNeedsARole() async throws {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: "cognito-developer"))
        let result = try await ConsoleGateProcess.run(["mint", "--config", path, "--user", "mallory"], environment: standIns.brokerEnvironment)
        #expect(result.status == 2)
        #expect(result.stderr.contains("matches no access rule"))
        #expect(result.stdout.isEmpty)
    }

    @Test func destinationOffTheConsoleIsRefused() async throws {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: "cognito-developer"))
        let result = try await ConsoleGateProcess.run(
            ["mint", "--config", path, "--user", "alice", "--destination", "https://us-east-1.console.aws.amazon.com.evil.com/"],
            environment: standIns.brokerEnvironment)
        #expect(result.status == 2)
        #expect(result.stderr.contains("not on the aws console"))
        #expect(result.stdout.isEmpty)
    }

    @Test func badConfigIsAUsageError() async throws {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: "cognito-developer").replacingOccurrences(of: "session_duration: 2h", with: "session_duration: 2h\n  sesion_duration: 1h"))
        let result = try await ConsoleGateProcess.run(["mint", "--config", path, "--user", "alice"], environment: standIns.brokerEnvironment)
        #expect(result.status == 2)
        #expect(result.stderr.contains("aws.sesion_duration: unknown key"))
    }

    /// `--config` has a default (/etc/consolegate/config.yaml, as for every command); `--user` has none.
    @Test func missingOptionIsAUsageError() async throws {
        let path = try ConsoleGateProcess.writeConfig(config(strategy: "cognito-developer"))
        let result = try await ConsoleGateProcess.run(["mint", "--config", path], environment: [:])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--user"))
    }
}
