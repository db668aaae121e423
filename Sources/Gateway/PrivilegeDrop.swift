import CProcessSupport
import Foundation
import GatewayConfig
#if canImport(Glibc)
import Glibc
#endif

public struct PrivilegeDropFailed: Error, CustomStringConvertible {
    public var description: String
}

/// Giving up root for good, after the listeners are bound, the audit file is open and the PAM monitor runs.
public enum PrivilegeDrop {
    /// Becomes `account` on every thread (no supplementary groups), sets no_new_privs everywhere, then checks
    /// each thread in /proc/self/task and that this one cannot become root again.
    public static func become(_ account: ServiceAccount) throws(PrivilegeDropFailed) {
        guard consolegate_become_user(account.uid, account.gid) == 0 else {
            throw PrivilegeDropFailed(description: "cannot become \(account.name) (uid \(account.uid)): \(String(cString: strerror(errno)))")
        }
        guard consolegate_no_new_privs_all_threads() == 0 else {
            throw PrivilegeDropFailed(description: "cannot set no_new_privs on every thread: \(String(cString: strerror(errno)))")
        }
        let expected = ThreadCredentials(uid: account.uid, gid: account.gid)
        let threads = ThreadCredentials.allThreads()
        guard !threads.isEmpty else {
            throw PrivilegeDropFailed(description: "cannot read /proc/self/task to check the drop")
        }
        for thread in threads where thread.credentials != expected {
            throw PrivilegeDropFailed(description: "thread \(thread.id) still has \(thread.credentials) after the drop to \(expected)")
        }
        guard consolegate_can_regain_root() == 0 else {
            throw PrivilegeDropFailed(description: "uid 0 could be regained after the drop to \(account.name)")
        }
    }
}

/// What /proc/self/task/TID/status says about one thread's privileges.
struct ThreadCredentials: Equatable, CustomStringConvertible {
    /// Real, effective, saved and filesystem ids, all one value after a drop.
    var uids: [uid_t]
    var gids: [gid_t]
    var groups: [gid_t]
    var effectiveCapabilities: String
    var noNewPrivileges: Bool

    init(uid: uid_t, gid: gid_t) {
        uids = [uid, uid, uid, uid]
        gids = [gid, gid, gid, gid]
        groups = [gid]
        effectiveCapabilities = "0000000000000000"
        noNewPrivileges = true
    }

    init(status: String) {
        var fields: [Substring: [Substring]] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...].split(whereSeparator: { $0 == "\t" || $0 == " " })
        }
        uids = fields["Uid", default: []].compactMap { uid_t($0) }
        gids = fields["Gid", default: []].compactMap { gid_t($0) }
        groups = fields["Groups", default: []].compactMap { gid_t($0) }
        effectiveCapabilities = fields["CapEff"]?.first.map(String.init) ?? "?"
        noNewPrivileges = fields["NoNewPrivs"]?.first == "1"
    }

    var description: String {
        "uids \(uids), gids \(gids), groups \(groups), CapEff \(effectiveCapabilities), NoNewPrivs \(noNewPrivileges ? 1 : 0)"
    }

    static func allThreads() -> [(id: String, credentials: ThreadCredentials)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { id in
            (try? String(contentsOfFile: "/proc/self/task/\(id)/status", encoding: .utf8)).map { (id, ThreadCredentials(status: $0)) }
        }
    }
}
