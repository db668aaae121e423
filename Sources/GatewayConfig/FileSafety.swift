import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether a file or directory that the daemon trusts could have been written (or read) by someone else,
/// as OpenSSH's StrictModes asks. Trusted owners are root and the user the daemon runs as, and for the audit
/// log and its directory also the service user that `serve` becomes.
public enum FileSafety {
    public enum Kind: Sendable {
        /// The config file, or a file that can make the daemon run commands (`~/.aws/config`): no one else may write it.
        case config
        /// Keys and credentials: no one else may write it, and others (not in its group) may not read it.
        case secret
        /// The audit log: a regular file, one link, not writable by group or others.
        case appendOnlyFile
        /// Where the daemon creates files or its socket (and the config's directory): no one else may write there.
        case directory
    }

    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var fix: String
        public var description: String { "\(path): \(problem); \(fix)" }

        public init(path: String, problem: String, fix: String) {
            self.path = path
            self.problem = problem
            self.fix = fix
        }
    }

    /// Checks an opened descriptor, so the answer is about the very file that will be used.
    public static func problem(descriptor: Int32, path: String, kind: Kind, alsoOwnedBy serviceUID: uid_t? = nil) -> Problem? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            return Problem(path: path, problem: "cannot be examined (\(String(cString: strerror(errno))))", fix: "check the path")
        }
        return problem(info, path: path, kind: kind, alsoOwnedBy: serviceUID)
    }

    /// Checks a path (following symlinks, as reading it would); nil when it does not exist.
    public static func problem(path: String, kind: Kind, alsoOwnedBy serviceUID: uid_t? = nil) -> Problem? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return problem(info, path: path, kind: kind, alsoOwnedBy: serviceUID)
    }

    static func problem(_ info: stat, path: String, kind: Kind, alsoOwnedBy serviceUID: uid_t? = nil) -> Problem? {
        let mode = info.st_mode & 0o7777
        let octal = "0" + String(mode, radix: 8)
        let trusted = Set([0, geteuid(), serviceUID].compactMap { $0 })
        let owners = trusted.sorted().map { $0 == 0 ? "root" : "uid \($0)" }.joined(separator: " or ")
        let fileType = info.st_mode & S_IFMT
        if kind == .directory, fileType != S_IFDIR {
            return Problem(path: path, problem: "is not a directory", fix: "use a directory")
        }
        if kind != .directory, fileType != S_IFREG {
            return Problem(path: path, problem: "is not a regular file", fix: "use a plain file")
        }
        guard trusted.contains(info.st_uid) else {
            return Problem(path: path, problem: "is owned by uid \(info.st_uid), not \(owners)", fix: "chown root \(path)")
        }
        if mode & (S_IWGRP | S_IWOTH) != 0 {
            let wanted = kind == .directory ? "0755" : kind == .secret ? "0600" : "0644"
            return Problem(path: path, problem: "can be written by \(mode & S_IWOTH != 0 ? "anyone" : "its group") (mode \(octal))",
                           fix: "chmod go-w \(path) (e.g. \(wanted))")
        }
        if kind == .secret, mode & (S_IROTH | S_IWOTH) != 0 {
            return Problem(path: path, problem: "can be read by anyone (mode \(octal))", fix: "chmod o-rwx \(path) (e.g. 0600, or 0640 with group consolegate)")
        }
        if kind == .appendOnlyFile, info.st_nlink != 1 {
            return Problem(path: path, problem: "has \(info.st_nlink) hard links", fix: "remove the other links, or the file, and let consolegate create it")
        }
        return nil
    }
}
