import Foundation

/// The system's `consolegate` account, which `serve` becomes when started as root (CI creates it; see
/// scripts/install-deps.sh). Fixtures give it the audit directory and list it in nss_wrapper's files.
public struct ServiceUser: Sendable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32

    /// Nil when the tests do not run as root: then the daemon keeps the tests' own uid.
    public static func whenRoot() -> ServiceUser? {
        guard getuid() == 0 else { return nil }
        guard let entry = getpwnam("consolegate") else {
            fatalError("running as root, the daemon becomes the user consolegate: create it (scripts/install-deps.sh does)")
        }
        return ServiceUser(name: "consolegate", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    public func own(_ path: String) throws {
        guard chown(path, uid, gid) == 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
    }

    public var passwdLine: String { "\(name):x:\(uid):\(gid)::/nonexistent:/usr/sbin/nologin\n" }
    public var groupLine: String { "\(name):x:\(gid):\n" }
}
