import Foundation
import Testing

@testable import GatewayConfig

@Suite struct ConfigurationTests {
    static let example = """
    aws:
      partition: aws
      region: us-east-1
      strategy: cognito-developer
      cognito:
        identity_pool_id: us-east-1:00000000-0000-0000-0000-000000000000
        account_id: "123456789012"
        developer_provider: login.example.org
      session_duration: 12h
      signin_endpoint: https://signin.aws.amazon.com/federation
      issuer: https://consolegate.example.org/
      destination: https://console.aws.amazon.com/
    access:
      - role: arn:aws:iam::123456789012:role/ConsoleReadOnly
        users: [alice]
        groups: [staff]
      - role: arn:aws:iam::123456789012:role/ConsoleAdmin
        groups: [aws-admins]
        destination: https://console.aws.amazon.com/ec2/home
        session_duration: 1h
    """

    @Test func readsTheDocumentedExample() throws {
        let config = try GatewayConfiguration.parse(yaml: Self.example)
        #expect(config.aws.strategy == .cognitoDeveloper)
        #expect(config.aws.sessionDuration == .seconds(43200))
        #expect(config.aws.cognito?.developerProvider == "login.example.org")
        #expect(config.aws.cognito?.accountId == "123456789012")
        #expect(config.access.count == 2)
        #expect(config.access[1].sessionDuration == .seconds(3600))
        #expect(config.access[1].destination?.absoluteString == "https://console.aws.amazon.com/ec2/home")
    }

    @Test func defaults() throws {
        let config = try GatewayConfiguration.parse(yaml: """
        aws:
          strategy: assume-role
        """)
        #expect(config.aws.partition == .aws)
        #expect(config.aws.region == "us-east-1")
        #expect(config.aws.sessionDuration == .seconds(3600))
        #expect(config.aws.requestTimeout == .seconds(10))
        #expect(config.access.isEmpty)
    }

    static let stepUpRule = "aws:\n  strategy: assume-role\naccess:\n  - role: arn:aws:iam::123456789012:role/Admin\n    groups: [admins]\n"
    static let refusals: [(String, String)] = [
        (stepUpRule + "    secrets: [otp]\n    pam_service: consolegate-otp\n",
         "access[0].secrets: leaves out password, which pam.secrets asks of everyone"),
        (stepUpRule + "    secrets: [password, otp]\n", "access[0].pam_service: is required: the secrets beyond pam.secrets (otp) need a PAM service"),
        (stepUpRule + "    secrets: [password, password]\n", "access[0].secrets: names a secret twice"),
        (stepUpRule + "    secrets: [password, fingerprint]\n", "access[0].secrets[1]: \"fingerprint\" is not one of: password | otp"),
        (stepUpRule + "    pam_service: ../shadow\n", "access[0].pam_service: must be a PAM service name"),
        (stepUpRule + "    region: cn-north-1\n", "access[0].region: \"cn-north-1\" is not a region of partition aws"),
        (stepUpRule + "    label: \"\"\n", "access[0].label: must be 1 to 64 printable characters"),
        ("aws:\n  strategy: assume-role\n  colour: blue\n", "aws.colour: unknown key"),
        ("aws:\n  strategy: assume-role\nextra: 1\n", "extra: unknown key"),
        ("aws:\n  strategy: magic\n", "aws.strategy: \"magic\" is not one of: cognito-developer | cognito-unauthenticated | assume-role | federation-token"),
        ("aws:\n  partition: aws-moon\n", "aws.partition: \"aws-moon\" is not one of: aws | aws-cn | aws-us-gov"),
        ("aws:\n  strategy: assume-role\n  session_duration: 10m\n", "aws.session_duration: 10m is outside 15m–12h"),
        ("aws:\n  strategy: assume-role\n  session_duration: 13h\n", "aws.session_duration: 13h is outside 15m–12h"),
        ("aws:\n  strategy: assume-role\n  session_duration: soon\n", "aws.session_duration: \"soon\" is not a duration"),
        ("aws:\n  strategy: cognito-developer\n  cognito:\n    identity_pool_id: us-east-1:0000\n", "aws.cognito.developer_provider: is required"),
        ("aws:\n  strategy: cognito-unauthenticated\n", "aws.cognito.identity_pool_id: is required"),
        ("aws:\n  strategy: federation-token\n", "aws.federation_policy: is required"),
        ("aws:\n  strategy: federation-token\n  federation_policy: not json\n", "aws.federation_policy: must be an IAM policy document"),
        ("aws:\n  strategy: assume-role\n  destination: http://console.aws.amazon.com/\n", "aws.destination: \"http://console.aws.amazon.com/\" is not an absolute https URL"),
        ("aws:\n  strategy: assume-role\n  region: Europe\n", "aws.region: \"Europe\" is not an AWS region name"),
        ("aws:\n  strategy: assume-role\naccess:\n  - role: arn:aws:iam::123456789012:user/alice\n    users: [alice]\n", "access[0].role: \"arn:aws:iam::123456789012:user/alice\" is not an IAM role ARN"),
        ("aws:\n  strategy: assume-role\naccess:\n  - role: arn:aws-cn:iam::123456789012:role/R\n    users: [alice]\n", "access[0].role:"),
        ("aws:\n  strategy: assume-role\naccess:\n  - role: arn:aws:iam::123456789012:role/R\n", "access[0]: a rule needs users or groups"),
        ("aws:\n  strategy: assume-role\naccess:\n  - role: arn:aws:iam::123456789012:role/R\n    users: alice\n", "access[0].users: must be a list"),
        ("aws:\n  strategy: assume-role\naccess:\n  - role: arn:aws:iam::123456789012:role/R\n    user: [alice]\n", "access[0].user: unknown key"),
        ("aws: [1, 2]\n", "aws: must be a mapping"),
        ("aws:\n  strategy: assume-role\n  region: us-east-1\n  region: eu-west-1\n", "aws.region: appears twice"),
        ("aws: {strategy: assume-role\n", "not valid YAML"),
        ("aws:\n  strategy: assume-role\nstate:\n  backend: postgres\n", "state.postgres: is required with backend postgres"),
        ("aws:\n  strategy: assume-role\nstate:\n  backend: redis\n", "state.backend: \"redis\" is not one of: memory | postgres"),
        ("aws:\n  strategy: assume-role\nstate:\n  backend: postgres\n  postgres:\n    url: postgres://gw@db/cg\n",
         "lockout.device_key_file: is required with state.backend postgres"),
        ("aws:\n  strategy: assume-role\nstate:\n  postgres:\n    url: postgres://gw:secret@db/cg\n", "state.postgres.url: must not hold a password"),
        ("aws:\n  strategy: assume-role\nstate:\n  postgres:\n    url: postgres://db/cg\n", "state.postgres.url: names no user"),
        ("aws:\n  strategy: assume-role\nstate:\n  postgres:\n    url: postgres://gw@db/\n", "state.postgres.url: names no database"),
        ("aws:\n  strategy: assume-role\nstate:\n  postgres:\n    url: postgres://gw@db/cg?sslmode=allow\n", "only sslmode=disable|require|verify-full"),
        ("aws:\n  strategy: assume-role\nstate:\n  postgres:\n    url: mysql://gw@db/cg\n", "state.postgres.url: \"mysql://gw@db/cg\" is not a URL such as"),
        ("aws:\n  strategy: assume-role\nstate:\n  postgres:\n    url: postgres://gw@db/cg?sslmode=disable\n    ca_file: /etc/ca.pem\n",
         "state.postgres.ca_file: is used only with sslmode=verify-full"),
        ("aws:\n  strategy: assume-role\naudit:\n  postgres: true\n", "audit.postgres: needs the database in state.postgres"),
    ]

    /// Per-rule settings fall back to the global ones; a step-up rule names its service and its secrets.
    @Test func perRuleSettings() throws {
        let config = try GatewayConfiguration.parse(yaml: """
        aws:
          strategy: assume-role
          region: eu-west-1
        pam:
          service: consolegate
          secrets: [password]
        access:
          - role: arn:aws:iam::123456789012:role/ReadOnly
            groups: [staff]
          - role: arn:aws:iam::123456789012:role/Admin
            groups: [admins]
            label: Administrator
            pam_service: consolegate-otp
            secrets: [password, otp]
            region: us-west-2
        """)
        let (plain, admin) = (config.access[0], config.access[1])
        #expect(plain.pamService == nil && plain.secrets == nil && plain.region == nil && plain.label == nil)
        #expect(plain.displayName == "arn:aws:iam::123456789012:role/ReadOnly")
        #expect(plain.stepUpSecrets(base: config.pam.secrets).isEmpty)
        #expect(admin.pamService == "consolegate-otp")
        #expect(admin.secrets == [.password, .otp])
        #expect(admin.stepUpSecrets(base: config.pam.secrets) == [.otp])
        #expect(admin.region == "us-west-2")
        #expect(admin.displayName == "Administrator")
    }

    @Test func sharedStateInPostgreSQL() throws {
        let config = try GatewayConfiguration.parse(yaml: """
        aws:
          strategy: assume-role
        audit:
          postgres: true
        lockout:
          device_key_file: /etc/consolegate/device-keys
        pam:
          otp_validity: 10m
        state:
          backend: postgres
          postgres:
            url: postgresql://consolegate@db.example.org:6432/gateway
            password_file: /etc/consolegate/pgpassword
            ca_file: /etc/consolegate/db-ca.pem
            timeout: 500ms
            max_connections: 4
        """)
        #expect(config.state.backend == .postgres)
        #expect(config.audit.postgres)
        #expect(config.pam.otpValidity == .seconds(600))
        #expect(config.state.postgres == PostgresSettings(host: "db.example.org", port: 6432, user: "consolegate", database: "gateway", tls: .verifyFull,
                                                          caFile: "/etc/consolegate/db-ca.pem", passwordFile: "/etc/consolegate/pgpassword",
                                                          timeout: .milliseconds(500), maxConnections: 4))
        let defaults = try GatewayConfiguration.parse(yaml: "aws:\n  strategy: assume-role\n")
        #expect(defaults.state == StateSettings(backend: .memory, postgres: nil))
        #expect(defaults.pam.otpValidity == .seconds(300))
    }

    @Test(arguments: refusals)
    func refusesWithThePathAndWhatIsAllowed(yaml: String, expected: String) {
        do {
            _ = try GatewayConfiguration.parse(yaml: yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as ConfigError {
            #expect("\(error)".contains(expected), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func durations() {
        #expect(DurationText.parse("900") == .seconds(900))
        #expect(DurationText.parse("30s") == .seconds(30))
        #expect(DurationText.parse("15m") == .seconds(900))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("12h") == .seconds(43200))
        #expect(DurationText.parse("h") == nil)
        #expect(DurationText.parse("5x") == nil)
        #expect(DurationText.parse("-5") == nil)
        #expect(DurationText.parse("") == nil)
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("1s250ms") == .milliseconds(1250))
        #expect(DurationText.parse("5ms5") == nil)
        #expect(DurationText.format(.milliseconds(500)) == "500ms")
        #expect(DurationText.format(.seconds(5400)) == "90m")
        #expect(DurationText.format(.seconds(43200)) == "12h")
    }

    @Test func regionNames() {
        for name in ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "ap-southeast-4"] { #expect(Region(name)?.name == name) }
        for name in ["us-east", "USEAST-1", "u-east-1", "us--1", "us-east-1a", "us-east-1/..", "", "-east-1"] { #expect(Region(name) == nil, "\(name)") }
        #expect(Region("cn-north-1")?.partition == .awsCN)
        #expect(Region("us-gov-west-1")?.partition == .awsUSGov)
        #expect(Region("eu-west-1")?.partition == .aws)
    }

    /// Found by fuzzing: thousands of nested flow collections overflowed the stack inside Yams.
    @Test func deepNestingIsAnErrorNotACrash() {
        #expect(throws: ConfigError.self) { try GatewayConfiguration.parse(yaml: String(repeating: "{", count: 2000)) }
        #expect(throws: ConfigError.self) { try GatewayConfiguration.parse(yaml: (0..<300).map { String(repeating: " ", count: $0) + "k\($0):\n" }.joined()) }
        #expect(throws: ConfigError.self) { try GatewayConfiguration.parse(yaml: String(repeating: "- ", count: 10_000) + "x") }
        let policy = #"aws:\n  strategy: federation-token\n  federation_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}'\n"#
        #expect(throws: Never.self) { try GatewayConfiguration.checkNesting(policy) }
    }

    /// Found by fuzzing: `07550956297025341212d`-style durations overflowed Int and trapped.
    @Test func hugeDurationsAreAnErrorNotACrash() {
        #expect(DurationText.parse("922337203685477580d") == nil)
        #expect(DurationText.parse("9223372036854775807s1s") == nil)
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(throws: ConfigError.self) { try GatewayConfiguration.parse(yaml: "aws:\n  strategy: assume-role\n  session_duration: 99999999999999999d\n") }
    }
}
