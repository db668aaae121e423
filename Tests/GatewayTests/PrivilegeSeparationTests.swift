import Foundation
import Minting
import Testing
import TestSupport

/// `serve` started as root: the process that accepts connections is the service user on every thread, the
/// PAM monitor stays root, root-only PAM stacks (pam_unix, pam_oath with a root-only users file) still work
/// through it, and so does the audit log after a rotation.
@Suite(.serialized, .enabled(if: getuid() == 0, "the privilege drop happens only when serve starts as root"))
struct PrivilegeSeparationTests {
    static func status(of path: String) throws -> [String: [String]] {
        let text = try String(contentsOfFile: "\(path)/status", encoding: .utf8)
        return text.split(separator: "\n").reduce(into: [:]) { fields, line in
            guard let colon = line.firstIndex(of: ":") else { return }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace).map(String.init)
        }
    }

    static func login(_ daemon: DaemonFixture, _ fields: [String: String]) async throws -> TransportResponse {
        try await AsyncHTTPTransport(environment: [:]).send(TransportRequest(
            method: "POST", url: daemon.httpURL.appendingPathComponent("api/v1/login"), headers: [("Content-Type", "application/json")],
            body: Array(try JSONSerialization.data(withJSONObject: fields)), timeout: .seconds(30)))
    }

    @Test func theProcessThatAcceptsConnectionsIsTheServiceUserAndPAMUnixStillWorks() async throws {
        let standIns = try StandIns.load()
        let system = try GatewayLoadTests.SystemUsers(count: 1, groupCount: 1)
        defer { system.remove() }
        let account = system.accounts[0]
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            users: [\(account.name)]
        """, systemService: system.service)
        defer { daemon.stop() }

        let answer = try await Self.login(daemon, ["username": account.name, "password": account.password])
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))\n\(daemon.logText)")
        let unlock = try await ConsoleGateProcess.run(["unlock", account.name, "--socket", daemon.socketPath], environment: [:])
        #expect(unlock.status == 0, "the socket listener: \(unlock.stderr)")

        let service = try #require(ServiceUser.whenRoot())
        let pid = daemon.process.processIdentifier
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
        #expect(threads.count > 1)
        for thread in threads {
            let status = try Self.status(of: "/proc/\(pid)/task/\(thread)")
            #expect(status["Uid"] == Array(repeating: "\(service.uid)", count: 4), "thread \(thread): \(status["Uid"] ?? [])")
            #expect(status["Gid"] == Array(repeating: "\(service.gid)", count: 4), "thread \(thread): \(status["Gid"] ?? [])")
            #expect(status["Groups"] == ["\(service.gid)"], "thread \(thread): \(status["Groups"] ?? [])")
            #expect(status["CapEff"] == ["0000000000000000"] && status["CapPrm"] == ["0000000000000000"], "thread \(thread)")
            #expect(status["NoNewPrivs"] == ["1"], "thread \(thread)")
        }
        let monitors = ProcessTable.parents().filter { $0.value.parent == pid && $0.value.command == "consolegate-pam" }
        #expect(monitors.count == 1)
        for monitor in monitors.keys {
            #expect(try Self.status(of: "/proc/\(monitor)")["Uid"] == ["0", "0", "0", "0"])
        }
        #expect(daemon.logText.contains("gave up root: now consolegate"))

        // logrotate moves the file away: the unprivileged daemon creates the next one itself.
        let auditFile = daemon.directory.appendingPathComponent("audit/audit.jsonl").path
        try FileManager.default.moveItem(atPath: auditFile, toPath: auditFile + ".1")
        let afterRotation = try await Self.login(daemon, ["username": account.name, "password": account.password])
        #expect(afterRotation.status == 200)
        #expect(daemon.auditLines.count == 2 && daemon.auditLines[1].contains(#""outcome":"success""#), "\(daemon.auditLines)")
        let owner = try FileManager.default.attributesOfItem(atPath: auditFile)[.ownerAccountID] as? NSNumber
        #expect(owner?.uint32Value == service.uid)
    }

    /// pam_oath records each used code in its users file, which is root's alone: only the root monitor's
    /// worker can read and write it.
    @Test func aPAMOathStackWithARootOnlyUsersFileAuthenticates() async throws {
        let standIns = try StandIns.load()
        let system = try GatewayLoadTests.SystemUsers(count: 1, groupCount: 1)
        defer { system.remove() }
        let account = system.accounts[0]
        let oathDirectory = system.scratch.appendingPathComponent("oath")
        try FileManager.default.createDirectory(at: oathDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let usersFile = oathDirectory.appendingPathComponent("users.oath").path
        let secret = "3132333435363738393031323334353637383930"
        try "HOTP/T30/6 \(account.name) - \(secret)\n".write(toFile: usersFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600, .ownerAccountID: 0], ofItemAtPath: usersFile)
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../pam/consolegate-otp").standardized
        try String(contentsOf: shipped, encoding: .utf8).replacingOccurrences(of: "/etc/liboath/users.oath", with: usersFile)
            .write(toFile: "/etc/pam.d/\(system.service)", atomically: true, encoding: .utf8)
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            users: [\(account.name)]
        """, systemService: system.service, pamExtra: "  secrets: [password, otp]")
        defer { daemon.stop() }

        let code = try OneTimeCode.now(secretHex: secret)
        let wrongCode = String(format: "%06d", (Int(code)! + 1) % 1_000_000)
        let refused = try await Self.login(daemon, ["username": account.name, "password": account.password, "otp": wrongCode])
        #expect(refused.status == 401)
        let answer = try await Self.login(daemon, ["username": account.name, "password": account.password, "otp": code])
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))\n\(daemon.auditLines)")
        // pam_oath wrote the used code back into the root-only file.
        #expect(try String(contentsOfFile: usersFile, encoding: .utf8).contains(code))
    }
}
