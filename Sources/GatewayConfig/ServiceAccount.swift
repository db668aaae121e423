import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The account `serve` becomes once its listeners are bound (`service_user`, default `consolegate`).
public struct ServiceAccount: Sendable, Equatable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t

    public init(name: String, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    /// The account to become when running as root; nil when there is no root to give up.
    public static func toBecome(_ name: String, configFile: String?) throws(FileSafety.Problem) -> ServiceAccount? {
        guard geteuid() == 0 else { return nil }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            throw FileSafety.Problem(path: configFile ?? "service_user", problem: "service_user \(name) does not exist",
                                     fix: "create it (useradd --system --no-create-home --shell /usr/sbin/nologin \(name)) or set service_user")
        }
        guard entry.pw_uid != 0, entry.pw_gid != 0 else {
            throw FileSafety.Problem(path: configFile ?? "service_user", problem: "service_user \(name) is uid or gid 0",
                                     fix: "set service_user to an unprivileged system user")
        }
        return ServiceAccount(name: name, uid: entry.pw_uid, gid: entry.pw_gid)
    }
}
