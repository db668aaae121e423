import Foundation
import Yams

extension GatewayConfiguration {
    public static let sessionDurationRange: ClosedRange<Duration> = .seconds(900) ... .seconds(43200)

    public static func load(file: String) throws -> GatewayConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(path: "", problem: "cannot read config file \(file): \(error.localizedDescription)")
        }
        return try parse(yaml: text)
    }

    /// Deeper than any real config: Yams composes nodes recursively, and thousands of levels overflow the
    /// stack (found by fuzzing). Such a file gets an error, not a crash.
    static let maximumNesting = 32
    static let maximumIndentation = 128

    public static func parse(yaml: String) throws -> GatewayConfiguration {
        try checkNesting(yaml)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(path: "", problem: "not valid YAML: \(error)")
        }
        var top = try ConfigMapping(root, path: "")
        var awsMapping = try top.mapping("aws")
        let aws = try AWSSettings(reading: &awsMapping)
        try awsMapping.finish()
        let accessNodes = try top.sequence("access", in: top.node("access"))
        let access = try accessNodes.enumerated().map { index, node in
            try AccessRule(reading: node, path: "access[\(index)]", partition: aws.partition)
        }
        var listenMap = try top.mapping("listen")
        let listen = try ListenSettings(reading: &listenMap)
        try listenMap.finish()
        var pamMap = try top.mapping("pam")
        let pam = try PAMSettings(reading: &pamMap)
        try pamMap.finish()
        for (index, rule) in access.enumerated() { try rule.check(base: pam.secrets, path: "access[\(index)]") }
        var auditMap = try top.mapping("audit")
        let audit = AuditSettings(file: try auditMap.string("file"), postgres: try auditMap.bool("postgres", default: false))
        try auditMap.finish()
        var lockoutMap = try top.mapping("lockout")
        let lockout = try LockoutSettings(reading: &lockoutMap)
        try lockoutMap.finish()
        var stateMap = try top.mapping("state")
        let state = try StateSettings(reading: &stateMap)
        try stateMap.finish()
        if audit.postgres, state.postgres == nil {
            throw ConfigError(path: "audit.postgres", problem: "needs the database in state.postgres (url, password_file …)")
        }
        if state.backend == .postgres, lockout.deviceKeyFile == nil {
            throw ConfigError(path: "lockout.device_key_file", problem: "is required with state.backend postgres: every replica must sign and verify device tokens (and key one-time codes) with the same keys (make one with: openssl rand -base64 48)")
        }
        let trustedProxies = try top.stringList("trusted_proxies")
        let adminGroup = try top.string("admin_group")
        let serviceUser = try top.string("service_user") ?? "consolegate"
        guard !serviceUser.isEmpty, serviceUser.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw ConfigError(path: "service_user", problem: "\"\(serviceUser)\" is not a user name")
        }
        try top.finish()
        return GatewayConfiguration(aws: aws, access: access, listen: listen, pam: pam, audit: audit, lockout: lockout, state: state, trustedProxies: trustedProxies,
                                    adminGroup: adminGroup, serviceUser: serviceUser)
    }
}

extension GatewayConfiguration {
    /// Flow collections (`[`, `{`) outside quotes and comments at most `maximumNesting` deep, as many block
    /// indicators (`- `, `? `, `: `) at the start of a line; no line indented more than `maximumIndentation`.
    static func checkNesting(_ yaml: String) throws {
        var depth = 0
        var quote: Character?
        var inComment = false
        var previous: Character = "\n"
        var column = 0
        var atIndentation = true
        var indicators = 0
        for character in yaml {
            defer { previous = character }
            if character == "\n" {
                inComment = false
                column = 0
                atIndentation = true
                indicators = 0
                continue
            }
            if atIndentation {
                if character == " " {
                    column += 1
                    if column > maximumIndentation {
                        throw ConfigError(path: "", problem: "a line is indented more than \(maximumIndentation) columns")
                    }
                    continue
                }
                if character == "-" || character == "?" || character == ":" {
                    // `- - - x`: each indicator followed by a space opens one more block level.
                    indicators += 1
                    if indicators > maximumNesting {
                        throw ConfigError(path: "", problem: "nested more than \(maximumNesting) levels deep")
                    }
                    continue
                }
                atIndentation = false
            }
            if inComment { continue }
            if let open = quote {
                if character == open, !(open == "\"" && previous == "\\") { quote = nil }
                continue
            }
            switch character {
            case "'", "\"": quote = character
            case "#" where previous == " " || previous == "\t" || previous == "\n": inComment = true
            case "[", "{":
                depth += 1
                if depth > maximumNesting {
                    throw ConfigError(path: "", problem: "nested more than \(maximumNesting) levels deep")
                }
            case "]", "}": depth = max(0, depth - 1)
            default: break
            }
        }
    }
}

extension ListenSettings {
    init(reading map: inout ConfigMapping) throws {
        self.init()
        if let http = try map.hostPort("http") {
            httpHost = http.host
            httpPort = http.port
        }
        metrics = try map.hostPort("metrics")
        maxConnections = try map.count("max_connections", default: maxConnections, range: 1...1_000_000)
        maxConnectionsPerAddress = try map.count("max_connections_per_address", default: maxConnectionsPerAddress, range: 1...1_000_000)
        headerTimeout = try map.duration("header_timeout", default: headerTimeout, range: .seconds(1) ... .seconds(300))
        idleTimeout = try map.duration("idle_timeout", default: idleTimeout, range: .seconds(1) ... .seconds(3600))
        socket = try map.string("socket")
        if let socket, !socket.hasPrefix("/") {
            throw ConfigError(path: map.keyPath("socket"), problem: "must be an absolute path")
        }
        if let mode = try map.string("socket_mode") {
            guard let parsed = UInt16(mode, radix: 8), parsed <= 0o777 else {
                throw ConfigError(path: map.keyPath("socket_mode"), problem: "\"\(mode)\" is not an octal file mode such as \"0660\"")
            }
            socketMode = parsed
        }
        socketGroup = try map.string("socket_group")
        tlsCertificate = try map.string("tls_certificate")
        tlsKey = try map.string("tls_key")
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ConfigError(path: map.keyPath(tlsCertificate == nil ? "tls_certificate" : "tls_key"), problem: "tls_certificate and tls_key go together")
        }
    }
}

extension PAMSettings {
    init(reading map: inout ConfigMapping) throws {
        self.init()
        service = try map.string("service") ?? service
        try Self.checkServiceName(service, path: map.keyPath("service"))
        timeout = try map.duration("timeout", default: timeout, range: .seconds(1) ... .seconds(600))
        maxConcurrent = try map.count("max_concurrent", default: maxConcurrent, range: 1...1024)
        queueTimeout = try map.duration("queue_timeout", default: queueTimeout, range: .seconds(1) ... .seconds(300))
        otpValidity = try map.duration("otp_validity", default: otpValidity, range: .seconds(30) ... .seconds(86400))
        let kinds = try map.stringList("secrets")
        if !kinds.isEmpty {
            secrets = try SecretKind.list(kinds, path: map.keyPath("secrets"))
        }
    }

    static func checkServiceName(_ service: String, path: String) throws {
        guard !service.isEmpty, service.utf8.count <= 255, !service.contains("/"), !service.hasPrefix("."),
              !service.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " })
        else {
            throw ConfigError(path: path, problem: "must be a PAM service name (a file in /etc/pam.d)")
        }
    }
}

extension StateSettings {
    init(reading map: inout ConfigMapping) throws {
        self.init()
        backend = try map.choice("backend", default: .memory)
        var postgresMap = try map.mapping("postgres")
        if map.isPresent("postgres") {
            postgres = try PostgresSettings(reading: &postgresMap)
        } else if backend == .postgres {
            throw ConfigError(path: map.keyPath("postgres"), problem: "is required with backend postgres (url, and password_file or PGPASSWORD)")
        }
        try postgresMap.finish()
    }
}

extension PostgresSettings {
    init(reading map: inout ConfigMapping) throws {
        let url = try map.requiredString("url", allowed: "postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full]")
        do {
            try self.init(url: url)
        } catch {
            throw ConfigError(path: map.keyPath("url"), problem: error.text)
        }
        caFile = try map.string("ca_file")
        passwordFile = try map.string("password_file")
        for (key, file) in [("ca_file", caFile), ("password_file", passwordFile)] where file.map({ !$0.hasPrefix("/") }) ?? false {
            throw ConfigError(path: map.keyPath(key), problem: "must be an absolute path")
        }
        if caFile != nil, tls != .verifyFull {
            throw ConfigError(path: map.keyPath("ca_file"), problem: "is used only with sslmode=verify-full (the default)")
        }
        timeout = try map.duration("timeout", default: timeout, range: .milliseconds(100) ... .seconds(60))
        maxConnections = try map.count("max_connections", default: maxConnections, range: 1...500)
    }
}

extension LockoutSettings {
    init(reading map: inout ConfigMapping) throws {
        self.init()
        if map.isPresent("max_failures") {
            throw ConfigError(path: map.keyPath("max_failures"), problem: "is now two settings: per_user (default 5) and per_address (default 100)")
        }
        perUser = try map.count("per_user", default: perUser, range: 1...1000)
        perAddress = try map.count("per_address", default: perAddress, range: 1...100_000)
        perUserInFlight = try map.count("per_user_in_flight", default: perUserInFlight, range: 1...100)
        perAddressInFlight = try map.count("per_address_in_flight", default: perAddressInFlight, range: 1...10_000)
        deviceKeyFile = try map.string("device_key_file")
        if let file = deviceKeyFile, !file.hasPrefix("/") {
            throw ConfigError(path: map.keyPath("device_key_file"), problem: "must be an absolute path")
        }
        deviceTokenLifetime = try map.duration("device_token_lifetime", default: deviceTokenLifetime, range: .seconds(3600) ... .seconds(365 * 86400))
        window = try map.duration("window", default: window, range: .seconds(1) ... .seconds(86400))
        duration = try map.duration("duration", default: duration, range: .seconds(1) ... .seconds(86400))
        failureFloor = try map.duration("failure_floor", default: failureFloor, range: .zero ... .seconds(30))
    }
}

extension AWSSettings {
    init(reading map: inout ConfigMapping) throws {
        self.init()
        partition = try map.choice("partition", default: .aws)
        region = try map.string("region") ?? "us-east-1"
        guard Region(region) != nil else {
            throw ConfigError(path: map.keyPath("region"), problem: "\"\(region)\" is not an AWS region name such as us-east-1")
        }
        strategy = try map.choice("strategy", default: .cognitoDeveloper)

        var cognitoMap = try map.mapping("cognito")
        if map.isPresent("cognito") || strategy.usesCognito {
            cognito = try CognitoSettings(reading: &cognitoMap, strategy: strategy)
        }
        try cognitoMap.finish()

        federationPolicy = try map.string("federation_policy")
        if let policy = federationPolicy {
            guard (try? JSONSerialization.jsonObject(with: Data(policy.utf8))) is [String: Any] else {
                throw ConfigError(path: map.keyPath("federation_policy"), problem: "must be an IAM policy document in JSON")
            }
        } else if strategy == .federationToken {
            throw ConfigError(path: map.keyPath("federation_policy"), problem: "is required with strategy federation-token (an IAM policy document in JSON)")
        }

        sessionDuration = try map.duration("session_duration", default: AWSSettings.defaultSessionDuration,
                                           range: GatewayConfiguration.sessionDurationRange)
        requestTimeout = try map.duration("request_timeout", default: AWSSettings.defaultRequestTimeout, range: .seconds(1) ... .seconds(300))
        loginTimeout = try map.duration("login_timeout", default: AWSSettings.defaultLoginTimeout, range: .seconds(1) ... .seconds(600))
        logoutFirst = try map.bool("logout_first", default: false)

        var tagsMap = try map.mapping("session_tags")
        sessionTags = []
        for key in tagsMap.keysInOrder {
            let value = try tagsMap.string(key) ?? ""
            guard (1...128).contains(key.count), value.count <= 256 else {
                throw ConfigError(path: tagsMap.keyPath(key), problem: "tag keys are 1–128 characters, values at most 256")
            }
            sessionTags.append((key, value))
        }
        guard sessionTags.count <= 50 else {
            throw ConfigError(path: map.keyPath("session_tags"), problem: "at most 50 session tags")
        }

        signinEndpoint = try map.url("signin_endpoint", schemes: ["https", "http"])
        issuer = try map.url("issuer", schemes: ["https", "http"])
        destination = try map.url("destination")
    }
}

extension CognitoSettings {
    init(reading map: inout ConfigMapping, strategy: StrategyKind) throws {
        let poolId = try map.requiredString("identity_pool_id", allowed: "the identity pool id, e.g. us-east-1:00000000-0000-0000-0000-000000000000")
        guard poolId.range(of: #"^[\w-]+:[0-9a-f-]+$"#, options: .regularExpression) != nil else {
            throw ConfigError(path: map.keyPath("identity_pool_id"), problem: "\"\(poolId)\" is not an identity pool id (REGION:GUID)")
        }
        let accountId = try map.string("account_id")
        if let accountId, accountId.range(of: #"^\d{12}$"#, options: .regularExpression) == nil {
            throw ConfigError(path: map.keyPath("account_id"), problem: "must be the 12-digit AWS account id, quoted")
        }
        let provider = try map.string("developer_provider")
        if strategy == .cognitoDeveloper, provider == nil {
            throw ConfigError(path: map.keyPath("developer_provider"), problem: "is required with strategy cognito-developer (the pool's developer provider name)")
        }
        let tokenDuration = try map.duration("token_duration", range: .seconds(1) ... .seconds(86400))
        self.init(identityPoolId: poolId, accountId: accountId, developerProvider: provider, tokenDuration: tokenDuration)
    }
}

extension AccessRule {
    init(reading node: Node, path: String, partition: Partition) throws {
        var map = try ConfigMapping(node, path: path)
        let role = try map.requiredString("role", allowed: "an IAM role ARN")
        let pattern = #"^arn:\#(partition.rawValue):iam::\d{12}:role/[\w+=,.@/-]{1,512}$"#
        guard role.range(of: pattern, options: .regularExpression) != nil else {
            throw ConfigError(path: map.keyPath("role"), problem: "\"\(role)\" is not an IAM role ARN of partition \(partition.rawValue) (arn:\(partition.rawValue):iam::ACCOUNT:role/NAME)")
        }
        let users = try map.stringList("users")
        let groups = try map.stringList("groups")
        let destination = try map.url("destination")
        let sessionDuration = try map.duration("session_duration", range: GatewayConfiguration.sessionDurationRange)
        let pamService = try map.string("pam_service")
        if let pamService { try PAMSettings.checkServiceName(pamService, path: map.keyPath("pam_service")) }
        let secrets = map.isPresent("secrets") ? try SecretKind.list(try map.stringList("secrets"), path: map.keyPath("secrets")) : nil
        let region = try map.string("region")
        if let region, Region(region)?.partition != partition {
            throw ConfigError(path: map.keyPath("region"), problem: "\"\(region)\" is not a region of partition \(partition.rawValue), such as us-east-1")
        }
        let label = try map.string("label")
        if let label, label.isEmpty || label.count > 64 || label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ConfigError(path: map.keyPath("label"), problem: "must be 1 to 64 printable characters")
        }
        try map.finish()
        guard !users.isEmpty || !groups.isEmpty else {
            throw ConfigError(path: path, problem: "a rule needs users or groups (or both)")
        }
        self.init(role: role, users: users, groups: groups, destination: destination, sessionDuration: sessionDuration,
                  pamService: pamService, secrets: secrets, region: region, label: label)
    }

    /// What only the whole config can tell: the rule's secrets against `pam.secrets`.
    func check(base: [SecretKind], path: String) throws {
        guard let secrets else { return }
        if let missing = base.first(where: { !secrets.contains($0) }) {
            throw ConfigError(path: "\(path).secrets", problem: "leaves out \(missing.rawValue), which pam.secrets asks of everyone: the base authentication comes first for every role")
        }
        if !stepUpSecrets(base: base).isEmpty, pamService == nil {
            throw ConfigError(path: "\(path).pam_service", problem: "is required: the secrets beyond pam.secrets (\(stepUpSecrets(base: base).map(\.rawValue).joined(separator: ", "))) need a PAM service that checks them, e.g. consolegate-otp with pam_oath")
        }
    }
}

extension SecretKind {
    static func list(_ raw: [String], path: String) throws -> [SecretKind] {
        guard !raw.isEmpty else { throw ConfigError(path: path, problem: "must name at least one of: password | otp") }
        let kinds = try raw.enumerated().map { index, name in
            guard let kind = SecretKind(rawValue: name) else {
                throw ConfigError(path: "\(path)[\(index)]", problem: "\"\(name)\" is not one of: password | otp")
            }
            return kind
        }
        guard Set(kinds).count == kinds.count else { throw ConfigError(path: path, problem: "names a secret twice") }
        return kinds
    }
}
