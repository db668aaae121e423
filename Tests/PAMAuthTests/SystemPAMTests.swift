import Foundation
import Testing

@testable import PAMAuth

/// Throwaway local users and the shipped pam/consolegate service installed under a unique name, for tests
/// of the real pam_unix (which verifies other users' passwords only as root). Removed by `remove()`.
struct SystemPAMFixture {
    let service = "consolegate-unix-test-\(Int.random(in: 10_000...99_999))"
    let users: [(name: String, password: String)]

    init(userCount: Int) throws {
        let prefix = "cgt\(Int.random(in: 10_000...99_999))"
        users = (0..<userCount).map { ("\(prefix)u\($0)", "Unix-pw-\($0)-\(UUID().uuidString.prefix(8))") }
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../pam/consolegate").standardized
        try FileManager.default.copyItem(atPath: shipped.path, toPath: "/etc/pam.d/\(service)")
        for user in users {
            try Self.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", user.name])
        }
        try Self.run("/usr/sbin/chpasswd", [], input: users.map { "\($0.name):\($0.password)\n" }.joined())
    }

    func remove() {
        for user in users { try? Self.run("/usr/sbin/userdel", [user.name]) }
        try? FileManager.default.removeItem(atPath: "/etc/pam.d/\(service)")
    }

    /// No pam_wrapper: the real libpam reads /etc/pam.d.
    func authenticate(_ user: String, _ secret: String) async -> PAMOutcome {
        await (try! PAMAuthenticator(monitorExecutable: PAMFixture.monitor, service: service, timeout: .seconds(20), callerEnvironment: [:]))
            .authenticate(PAMRequest(service: service, user: user, remoteHost: "198.51.100.7", tty: "http"), secrets: PAMFixture.secrets(secret))
    }

    static func run(_ command: String, _ arguments: [String], input: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(command) \(arguments) exited \(process.terminationStatus)"])
        }
    }
}

/// The real pam_unix through the shipped pam/consolegate service file, with a throwaway user.
@Suite(.serialized, .enabled(if: getuid() == 0, "pam_unix verifies other users' passwords only as root"))
struct SystemPAMTests {
    @Test func passwordAgingAndExpiry() async throws {
        let fixture = try SystemPAMFixture(userCount: 1)
        defer { fixture.remove() }
        let (user, password) = fixture.users[0]

        let success = await fixture.authenticate(user, password)
        #expect(success.verdict == .success, "\(success.detail)")
        let wrong = await fixture.authenticate(user, "not-the-password")
        #expect(wrong.verdict == .authenticationFailed)
        // pam_unix asks for a delay after a failure; it is reported, not slept in the helper.
        #expect(wrong.failDelay > .zero)

        try SystemPAMFixture.run("/usr/bin/chage", ["-E", "0", user])
        let expired = await fixture.authenticate(user, password)
        #expect(expired.verdict == .accountRefused, "\(expired.detail)")

        try SystemPAMFixture.run("/usr/bin/chage", ["-E", "-1", "-d", "0", user])
        let mustChange = await fixture.authenticate(user, password)
        #expect(mustChange.verdict == .accountRefused, "\(mustChange.detail)")
        #expect(mustChange.detail.contains("PAM status 12"), "PAM_NEW_AUTHTOK_REQD: \(mustChange.detail)")
    }
}
