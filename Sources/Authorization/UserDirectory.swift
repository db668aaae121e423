#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Looks users and their groups up through NSS, so LDAP users served by nslcd or sssd count too.
public protocol UserDirectory: Sendable {
    /// Names of every group the user is in (primary included); nil when NSS does not know the user.
    func groups(of user: String) -> [String]?
    func userName(uid: UInt32) -> String?
}

public struct SystemUserDirectory: UserDirectory {
    public init() {}

    public func groups(of user: String) -> [String]? {
        guard let primary = primaryGroup(of: user) else { return nil }
        var count: Int32 = 32
        var ids = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(user, primary, &ids, &count) == -1 {
            // `count` now holds the number needed.
            ids = [gid_t](repeating: 0, count: Int(count) + 8)
            count = Int32(ids.count)
        }
        return ids.prefix(Int(count)).compactMap(groupName)
    }

    public func userName(uid: UInt32) -> String? {
        passwdEntry({ entry, buffer, size, result in getpwuid_r(uid, &entry, buffer, size, &result) }) { String(cString: $0.pw_name) }
    }

    private func primaryGroup(of user: String) -> gid_t? {
        passwdEntry({ entry, buffer, size, result in getpwnam_r(user, &entry, buffer, size, &result) }) { $0.pw_gid }
    }

    /// Runs a reentrant passwd lookup and reads what is needed while its strings (in the buffer) are alive.
    private func passwdEntry<T>(
        _ lookup: (inout passwd, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<passwd>?) -> Int32,
        _ extract: (passwd) -> T
    ) -> T? {
        var size = 4096
        while true {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let status = lookup(&entry, buffer, size, &result)
            if status == ERANGE {
                size *= 2
                continue
            }
            guard status == 0, result != nil else { return nil }
            return extract(entry)
        }
    }

    private func groupName(_ gid: gid_t) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let status = getgrgid_r(gid, &entry, &buffer, buffer.count, &result)
            if status == ERANGE {
                buffer = [CChar](repeating: 0, count: buffer.count * 2)
                continue
            }
            guard status == 0, result != nil, let name = entry.gr_name else { return nil }
            return String(cString: name)
        }
    }
}
