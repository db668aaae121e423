import Foundation
import Synchronization
import TestSupport

/// A real `consolegate serve` process against the stand-ins. Its users live either in pam_wrapper
/// (pam_matrix) and nss_wrapper, so nothing in /etc changes, or in the system itself (`systemService`).
final class DaemonFixture: Sendable {
    struct User {
        var name: String
        var password: String
        var uid: UInt32
        var groups: [String]
    }

    let directory: URL
    let process: Process
    let httpURL: URL
    /// The operators' listener (`listen.metrics`).
    let metricsURL: URL
    let socketPath: String
    private let log: DaemonLog

    final class DaemonLog: Sendable {
        let text = Mutex("")
        func append(_ line: String) { text.withLock { $0 += line + "\n" } }
        var contents: String { text.withLock { $0 } }
    }

    /// `systemService`: a PAM service in /etc/pam.d and the system's own users, no wrappers.
    /// `listenExtra`, `pamExtra`, `lockoutExtra`: more lines for the `listen:` (TLS), `pam:` and `lockout:` sections, indented.
    init(standIns: StandIns, users: [User], access: String, systemService: String? = nil, listenExtra: String = "", pamExtra: String = "",
         lockoutExtra: String = "") async throws {
        directory = URL(fileURLWithPath: "/tmp/consolegate-daemon-\(UUID().uuidString.prefix(8))")
        let run = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        // Started as root, the daemon becomes the service user, which owns the audit directory.
        let serviceUser = ServiceUser.whenRoot()
        let auditDirectory = directory.appendingPathComponent("audit")
        try FileManager.default.createDirectory(at: auditDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o750])
        if let serviceUser { try serviceUser.own(auditDirectory.path) }
        let services = directory.appendingPathComponent("services")
        try FileManager.default.createDirectory(at: services, withIntermediateDirectories: true)
        let passdb = directory.appendingPathComponent("passdb").path
        let matrix = Multiarch.pamMatrix
        try users.map { "\($0.name):\($0.password):consolegate-e2e\n" }.joined().write(toFile: passdb, atomically: true, encoding: .utf8)
        try "auth required \(matrix) passdb=\(passdb)\naccount required \(matrix) passdb=\(passdb)\n"
            .write(to: services.appendingPathComponent("consolegate-e2e"), atomically: true, encoding: .utf8)
        let passwd = directory.appendingPathComponent("passwd").path
        try (users.map { "\($0.name):x:\($0.uid):\($0.uid)::/nonexistent:/bin/bash\n" } + [serviceUser?.passwdLine].compactMap { $0 })
            .joined().write(toFile: passwd, atomically: true, encoding: .utf8)
        let groupNames = Array(Set(users.flatMap(\.groups))).sorted()
        let groupFile = directory.appendingPathComponent("group").path
        let groupLines = groupNames.enumerated().map { index, group in
            "\(group):x:\(40000 + index):\(users.filter { $0.groups.contains(group) }.map(\.name).joined(separator: ","))\n"
        } + users.map { "\($0.name):x:\($0.uid):\n" } + [serviceUser?.groupLine].compactMap { $0 }
        try groupLines.joined().write(toFile: groupFile, atomically: true, encoding: .utf8)

        socketPath = run.appendingPathComponent("consolegate.sock").path
        let config = directory.appendingPathComponent("config.yaml").path
        try """
        aws:
          region: us-east-1
          strategy: cognito-developer
          cognito:
            identity_pool_id: \(standIns.identityPoolId)
            developer_provider: \(standIns.developerProvider)
          signin_endpoint: \(standIns.federationURL)
          issuer: https://consolegate.example.org/
        \(access)
        listen:
          http: 127.0.0.1:0
          metrics: 127.0.0.1:0
          socket: \(socketPath)
          socket_mode: "0600"
        \(listenExtra)
        pam:
          service: \(systemService ?? "consolegate-e2e")
        \(pamExtra)
        audit:
          file: \(auditDirectory.appendingPathComponent("audit.jsonl").path)
        lockout:
          failure_floor: 100ms
        \(lockoutExtra)
        """.write(toFile: config, atomically: true, encoding: .utf8)

        process = Process()
        process.executableURL = URL(fileURLWithPath: ConsoleGateProcess.binary)
        process.arguments = ["serve", "--config", config]
        let wrappers = [
            "LD_PRELOAD": "libpam_wrapper.so:libnss_wrapper.so", "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": services.path,
            "NSS_WRAPPER_PASSWD": passwd, "NSS_WRAPPER_GROUP": groupFile,
        ]
        process.environment = standIns.brokerEnvironment.merging(systemService == nil ? wrappers : [:]) { $1 }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = DaemonLog()
        self.log = log
        // Ready when every listener has said where it listens and the daemon has left start-up (given up root,
        // or said there was none to give up): only then does it serve. The log keeps being read so the pipe
        // never fills.
        let ports: (api: Int, metrics: Int)? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var resumed = false
                var port: Int?
                var metricsPort: Int?
                var sawSocket = false
                var startedUp = false
                var pending = Data()
                while true {
                    let chunk = stderr.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: 0x0A) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        log.append(line)
                        if let range = line.range(of: "listening on 127.0.0.1:") {
                            let number = Int(line[range.upperBound...].prefix { $0.isNumber })
                            if line.contains(#""listener":"metrics""#) { metricsPort = number } else { port = number }
                        }
                        if line.contains("listening on socket path") { sawSocket = true }
                        if line.contains("gave up root") || line.contains("no privileges to drop") { startedUp = true }
                        if !resumed, let port, let metricsPort, sawSocket, startedUp {
                            resumed = true
                            continuation.resume(returning: (port, metricsPort))
                        }
                    }
                }
                if !resumed { continuation.resume(returning: nil) }
            }
        }
        guard let ports else {
            process.terminate()
            throw DaemonDidNotStart(log: log.contents)
        }
        httpURL = URL(string: "http://127.0.0.1:\(ports.api)")!
        metricsURL = URL(string: "http://127.0.0.1:\(ports.metrics)")!
    }

    struct DaemonDidNotStart: Error, CustomStringConvertible {
        var log: String
        var description: String { "consolegate serve did not start:\n\(log)" }
    }

    /// What the daemon logged so far (JSON lines).
    var logText: String { log.contents }

    var auditLines: [String] {
        ((try? String(contentsOf: directory.appendingPathComponent("audit/audit.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// PAM workers of the daemon's monitor still there (zombies count: unreaped is leaked).
    var leftoverHelpers: [String] {
        let parents = ProcessTable.parents()
        let monitors = Set(parents.filter { $0.value.parent == process.processIdentifier && $0.value.command == "consolegate-pam" }.keys)
        return parents.filter { monitors.contains($0.value.parent) }.map { "\($0.key): \($0.value.command)" }
    }
}
