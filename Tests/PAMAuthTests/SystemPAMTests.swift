import Foundation
import Testing

@testable import PAMAuth

/// The real pam_unix through the shipped pam/consolegate service file, with a throwaway user that the test
/// creates and removes. pam_unix checks another user's password only as root, so this needs root (CI is).
@Suite(.serialized, .enabled(if: getuid() == 0, "pam_unix verifies other users' passwords only as root"))
struct SystemPAMTests {
    let user = "cgtest\(Int.random(in: 10_000...99_999))"
    let password = "Unix-pw-\(UUID().uuidString.prefix(8))"
    let service = "consolegate-unix-test-\(Int.random(in: 10_000...99_999))"

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

    func authenticate(_ secret: String) async -> PAMOutcome {
        // No pam_wrapper: the real libpam reads /etc/pam.d.
        await PAMAuthenticator(helperExecutable: PAMFixture.helper, timeout: .seconds(20), callerEnvironment: [:])
            .authenticate(PAMRequest(service: service, user: user, remoteHost: "198.51.100.7", tty: "http"), secrets: PAMFixture.secrets(secret))
    }

    @Test func passwordAgingAndExpiry() async throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../pam/consolegate").standardized
        let installed = "/etc/pam.d/\(service)"
        try FileManager.default.copyItem(atPath: shipped.path, toPath: installed)
        try Self.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", user])
        defer {
            try? Self.run("/usr/sbin/userdel", [user])
            try? FileManager.default.removeItem(atPath: installed)
        }
        try Self.run("/usr/sbin/chpasswd", [], input: "\(user):\(password)\n")

        let success = await authenticate(password)
        #expect(success.verdict == .success, "\(success.detail)")
        let wrong = await authenticate("not-the-password")
        #expect(wrong.verdict == .authenticationFailed)
        // pam_unix asks for a delay after a failure; it is reported, not slept in the helper.
        #expect(wrong.failDelay > .zero)

        try Self.run("/usr/bin/chage", ["-E", "0", user])
        let expired = await authenticate(password)
        #expect(expired.verdict == .accountRefused, "\(expired.detail)")

        try Self.run("/usr/bin/chage", ["-E", "-1", "-d", "0", user])
        let mustChange = await authenticate(password)
        #expect(mustChange.verdict == .accountRefused, "\(mustChange.detail)")
        #expect(mustChange.detail.contains("PAM status 12"), "PAM_NEW_AUTHTOK_REQD: \(mustChange.detail)")
    }
}
