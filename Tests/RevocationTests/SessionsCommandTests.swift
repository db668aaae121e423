import Foundation
import TestSupport
import Testing

/// `consolegate sessions` over a trail with every case: live, expired, revoked for the person, revoked for
/// everyone, signed in again after a revocation, and failures.
@Suite struct SessionsCommandTests {
    static let roleA = "arn:aws:iam::123456789012:role/A"
    static let roleB = "arn:aws:iam::123456789012:role/B"
    static let roleC = "arn:aws:iam::123456789012:role/C"

    static func time(_ offset: TimeInterval) -> String {
        Date().addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func line(_ fields: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: fields, options: .sortedKeys), as: UTF8.self) + "\n"
    }

    static func signIn(_ user: String, _ role: String, at offset: TimeInterval, expiresIn: TimeInterval, key: String) -> [String: String] {
        ["time": time(offset), "request_id": key, "front_end": "api", "user": user, "client": "127.0.0.1", "outcome": "success", "role": role,
         "session_name": user, "access_key_id": key, "expires": time(offset + expiresIn)]
    }

    @Test func onlyLiveUnrevokedSignInsAreListed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-sessions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let audit = directory.appendingPathComponent("audit.jsonl").path
        let trail = [
            Self.signIn("alice", Self.roleA, at: -3600, expiresIn: 7200, key: "ASIALIVE"),
            Self.signIn("alice", Self.roleA, at: -7200, expiresIn: 3600, key: "ASIAEXPIRED"),
            Self.signIn("bob", Self.roleA, at: -1800, expiresIn: 7200, key: "ASIAREVOKED"),
            Self.signIn("bob", Self.roleB, at: -1800, expiresIn: 7200, key: "ASIAOTHERROLE"),
            Self.signIn("carol", Self.roleC, at: -1800, expiresIn: 7200, key: "ASIAALLREVOKED"),
            ["time": Self.time(-900), "request_id": "r1", "front_end": "cli", "user": "bob", "client": "uid:0", "outcome": "revoked", "role": Self.roleA,
             "session_name": "bob"],
            ["time": Self.time(-900), "request_id": "r2", "front_end": "cli", "user": "*", "client": "uid:0", "outcome": "revoked", "role": Self.roleC],
            Self.signIn("bob", Self.roleA, at: -600, expiresIn: 3600, key: "ASIAAFTER"),
            ["time": Self.time(-60), "request_id": "f", "front_end": "web", "user": "dave", "client": "127.0.0.1", "outcome": "authentication_failed"],
        ]
        try trail.map(Self.line).joined().write(toFile: audit, atomically: true, encoding: .utf8)
        let config = try ConsoleGateProcess.writeConfig("""
            aws:
              region: us-east-1
              strategy: assume-role
            access:
              - role: \(Self.roleA)
                users: [alice, bob]
            audit:
              file: \(audit)
            """)
        func keys(_ arguments: [String]) async throws -> [String] {
            let result = try await ConsoleGateProcess.run(["sessions", "--config", config, "--format", "json"] + arguments, environment: [:])
            #expect(result.status == 0, "\(result.stderr)")
            return try result.stdout.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])["access_key_id"] ?? ""
            }
        }
        #expect(try await keys([]) == ["ASIALIVE", "ASIAOTHERROLE", "ASIAAFTER"])
        #expect(try await keys(["--user", "bob"]) == ["ASIAOTHERROLE", "ASIAAFTER"])
        #expect(try await keys(["--role", Self.roleB]) == ["ASIAOTHERROLE"])
        let table = try await ConsoleGateProcess.run(["sessions", "--config", config], environment: [:])
        #expect(table.stdout.hasPrefix("USER"))
        #expect(table.stdout.split(separator: "\n").count == 4)
    }
}
