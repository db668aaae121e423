import Foundation
import PAMAuth
import TestSupport

/// A throwaway PAM world under pam_wrapper: service files and a pam_matrix password database in a temporary
/// directory, so tests need no changes to /etc/pam.d.
struct PAMFixture {
    static let matrix = Multiarch.pamMatrix
    static let modules = Multiarch.pamModules

    let directory: URL

    /// `users`: name, password, and the service pam_matrix's account phase accepts them for.
    init(users: [(String, String, String)] = [("alice", "alice-secret", "cgtest"), ("bob", "bob-secret", "another-service")]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-pam-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("services"), withIntermediateDirectories: true)
        try users.map { "\($0.0):\($0.1):\($0.2)\n" }.joined().write(to: passdb, atomically: true, encoding: .utf8)
        try service("other", "auth required \(Self.modules)/pam_deny.so\naccount required \(Self.modules)/pam_deny.so\n")
        try service("cgtest", """
        auth    required \(Self.matrix) passdb=\(passdb.path)
        account required \(Self.matrix) passdb=\(passdb.path)
        """)
    }

    var passdb: URL { directory.appendingPathComponent("passdb") }

    func service(_ name: String, _ text: String) throws {
        try (text + "\n").write(to: directory.appendingPathComponent("services/\(name)"), atomically: true, encoding: .utf8)
    }

    /// What a caller running under pam_wrapper has in its environment.
    var callerEnvironment: [String: String] {
        ["LD_PRELOAD": "libpam_wrapper.so", "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": directory.appendingPathComponent("services").path,
         "HOME": "/root", "SOMETHING_PRIVATE": "must not reach the helper"]
    }

    /// The PAM monitor built beside the consolegate binary.
    static var monitor: String { (ConsoleGateProcess.binary as NSString).deletingLastPathComponent + "/consolegate-pam" }

    /// A monitor of its own for `service`, under this fixture's pam_wrapper.
    func authenticator(service: String = "cgtest", timeout: Duration = .seconds(10)) -> PAMAuthenticator {
        try! PAMAuthenticator(monitorExecutable: Self.monitor, service: service, timeout: timeout, callerEnvironment: callerEnvironment)
    }

    static func secrets(_ values: String...) -> [SecretBytes] {
        values.map { SecretBytes(copying: Array($0.utf8)) }
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// What this process has open and which children it has, to find leaks.
enum ProcessCensus {
    /// Open descriptors and what they are (`pipe:[…]`, `socket:[…]`, a path).
    static func openDescriptors() -> [String: String] {
        let numbers = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        // The listing's own descriptor is gone by the time its link is read.
        return Dictionary(uniqueKeysWithValues: numbers.compactMap { number in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(number)")).map { (number, $0) }
        })
    }

    /// Waits (at most 5 s) until `done` holds: an authenticator's monitor goes when the last reference to it
    /// does, which can be the transaction's own thread finishing a moment after the answer.
    static func settle(_ done: () -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(5)
        while !done(), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// PAM monitors this process started that are still there (zombies included: they are leaks too).
    static func helpers() -> [String] {
        processes { pid, stat in
            let fields = stat.fields
            return fields.count > 1 && Int32(fields[1]) == getpid() && stat.command.contains("consolegate")
        }
    }

    /// Live (not zombie) processes whose command line contains `marker`.
    static func running(marker: String) -> [String] {
        processes { pid, stat in
            guard stat.fields.first != "Z" else { return false }
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(marker)
        }
    }

    struct Stat {
        var command: Substring
        var fields: [Substring]
    }

    private static func processes(where matches: (String, Stat) -> Bool) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid in
            guard Int32(pid) != nil, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
            let stat = Stat(command: text[text.index(after: open)..<close], fields: text[text.index(after: close)...].split(separator: " "))
            return matches(pid, stat) ? "\(pid): \(text.prefix(60))" : nil
        }
    }
}
