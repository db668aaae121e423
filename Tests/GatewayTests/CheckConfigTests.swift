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
}
