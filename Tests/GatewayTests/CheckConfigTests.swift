import Foundation
import Testing
import TestSupport

/// `consolegate check-config`: the config, the PAM service file and the broker credential chain, no AWS call.
@Suite struct CheckConfigTests {
    func writeConfig(service: String) throws -> String {
        try ConsoleGateProcess.writeConfig("""
        aws:
          strategy: assume-role
        pam:
          service: \(service)
        audit:
          file: /var/log/consolegate/audit.jsonl
        access:
          - role: arn:aws:iam::123456789012:role/ConsoleReadOnly
            users: [alice]
        """)
    }

    func pamDirectory(with service: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-pamd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "auth required pam_deny.so\n".write(to: directory.appendingPathComponent(service), atomically: true, encoding: .utf8)
        return directory.path
    }

    static let isolated = ["HOME": "/nonexistent-consolegate", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent-consolegate/c", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent-consolegate/s"]

    @Test func allGood() async throws {
        let config = try writeConfig(service: "consolegate")
        let result = try await ConsoleGateProcess.run(["check-config", config, "--pam-directory", try pamDirectory(with: "consolegate")],
                                                      environment: Self.isolated.merging(["AWS_ACCESS_KEY_ID": "AKIDCHECK", "AWS_SECRET_ACCESS_KEY": "s"]) { $1 })
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("ok: broker credentials found (access key AKIDCHECK, long-term)"))
        #expect(!result.stdout.contains("\"s\""))
    }

    @Test func reportsEachProblem() async throws {
        let config = try writeConfig(service: "consolegate-missing")
        let result = try await ConsoleGateProcess.run(["check-config", config, "--pam-directory", try pamDirectory(with: "consolegate")], environment: Self.isolated)
        #expect(result.status == 2)
        #expect(result.stderr.contains("consolegate-missing does not exist"))
        #expect(result.stderr.contains("no broker credentials"))
    }

    @Test func badConfigNamesTheKey() async throws {
        let config = try ConsoleGateProcess.writeConfig("aws:\n  strategy: assume-role\npam:\n  secrets: [password, fingerprint]\n")
        let result = try await ConsoleGateProcess.run(["check-config", config], environment: Self.isolated)
        #expect(result.status == 2)
        #expect(result.stderr.contains("pam.secrets[1]: \"fingerprint\" is not one of: password | otp"))
    }

    /// What others could change or read: check-config names each such file and the fix, and exits 2.
    @Test func filesOthersCouldChangeOrReadAreReported() async throws {
        let config = try writeConfig(service: "consolegate")
        let directory = (config as NSString).deletingLastPathComponent
        let credentials = "\(directory)/credentials"
        try "[default]\naws_access_key_id = AKIDCHECK\naws_secret_access_key = s\n".write(toFile: credentials, atomically: true, encoding: .utf8)
        for (path, mode) in [(config, 0o666), (directory, 0o777), (credentials, 0o644)] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        }
        var environment = Self.isolated
        environment["AWS_SHARED_CREDENTIALS_FILE"] = credentials
        let result = try await ConsoleGateProcess.run(["check-config", config, "--pam-directory", try pamDirectory(with: "consolegate")], environment: environment)
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(config): can be written by anyone (mode 0666)"), "\(result.stderr)")
        #expect(result.stderr.contains("\(directory): can be written by anyone (mode 0777)"))
        #expect(result.stderr.contains("\(credentials): can be read by anyone (mode 0644)"))
        #expect(result.stderr.contains("chmod go-w \(config)"))
        try FileManager.default.setAttributes([.posixPermissions: 0o620], ofItemAtPath: config)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        // Readable by the service user's group (which serve, started as root, becomes), and no one else.
        try FileManager.default.setAttributes([.posixPermissions: 0o640, .groupOwnerAccountID: ServiceUser.whenRoot()?.gid ?? getgid()], ofItemAtPath: credentials)
        let groupWritable = try await ConsoleGateProcess.run(["check-config", config, "--pam-directory", try pamDirectory(with: "consolegate")], environment: environment)
        #expect(groupWritable.stderr.contains("\(config): can be written by its group (mode 0620)"), "\(groupWritable.stderr)")
        #expect(!groupWritable.stderr.contains(credentials))
    }
}

/// `consolegate serve` refuses to start, naming the path, when a file it would trust or write is not safe.
@Suite struct ServeRefusesUnsafeFilesTests {
    /// A config whose audit log and socket live in `directory`.
    func config(in directory: String, audit: String? = nil, socket: String? = nil) throws -> String {
        try ConsoleGateProcess.writeConfig("""
        aws:
          strategy: assume-role
        access:
          - role: arn:aws:iam::123456789012:role/ConsoleReadOnly
            users: [alice]
        listen:
          socket: \(socket ?? "\(directory)/run/consolegate.sock")
        audit:
          file: \(audit ?? "\(directory)/audit/audit.jsonl")
        """)
    }

    func scratch() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-unsafe-\(UUID().uuidString)").path
        for sub in ["", "/run", "/audit"] {
            try FileManager.default.createDirectory(atPath: directory + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        return directory
    }

    func serve(_ config: String) async throws -> ConsoleGateProcess.Result {
        try await ConsoleGateProcess.run(["serve", "--config", config], environment: CheckConfigTests.isolated.merging(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"]) { $1 })
    }

    @Test func anAuditFileThatIsASymlinkStopsServe() async throws {
        let directory = try scratch()
        let target = "\(directory)/root-only-file"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/audit/audit.jsonl", withDestinationPath: target)
        let result = try await serve(try config(in: directory))
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(directory)/audit/audit.jsonl: is a symlink"), "\(result.stderr)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
    }

    @Test func anAuditDirectoryOthersCanWriteStopsServe() async throws {
        let directory = try scratch()
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: "\(directory)/audit")
        let result = try await serve(try config(in: directory))
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(directory)/audit: can be written by anyone (mode 0777)"), "\(result.stderr)")
    }

    @Test func aGroupWritableSocketDirectoryStopsServe() async throws {
        let directory = try scratch()
        try FileManager.default.setAttributes([.posixPermissions: 0o775], ofItemAtPath: "\(directory)/run")
        let result = try await serve(try config(in: directory))
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(directory)/run: can be written by its group (mode 0775)"), "\(result.stderr)")
    }

    @Test func aConfigOthersCanWriteStopsServe() async throws {
        let directory = try scratch()
        let config = try config(in: directory)
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: config)
        let result = try await serve(config)
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(config): can be written by anyone (mode 0666)"), "\(result.stderr)")
    }

    /// Root's files that the daemon needs after it has become the service user: it must own the audit
    /// directory (rotation) and be able to read the broker's credentials (refresh).
    @Test(.enabled(if: getuid() == 0, "only serve started as root drops to the service user"))
    func startedAsRootTheServiceUserMustOwnTheAuditDirectoryAndReadTheBrokerCredentials() async throws {
        let directory = try scratch()
        let credentials = "\(directory)/aws-credentials"
        try "[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n".write(toFile: credentials, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: credentials)
        let result = try await ConsoleGateProcess.run(["serve", "--config", try config(in: directory)],
                                                      environment: CheckConfigTests.isolated.merging(["AWS_SHARED_CREDENTIALS_FILE": credentials]) { $1 })
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(directory)/audit: is owned by uid 0, but the daemon runs as consolegate"), "\(result.stderr)")
        #expect(result.stderr.contains("\(credentials): cannot be read by consolegate"), "\(result.stderr)")
    }
}
