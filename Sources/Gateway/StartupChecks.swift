import Foundation
import GatewayConfig
import Minting
#if canImport(Glibc)
import Glibc
#endif

/// The files `serve` trusts, checked before it starts (and by `check-config`): the config and its
/// directory, the broker's shared AWS files, keys, and the directories the daemon writes into.
public enum StartupChecks {
    /// `serviceAccount`: whom `serve` becomes after start-up, when it runs as root.
    public static func fileProblems(configFile: String?, configuration: GatewayConfiguration, environment: [String: String],
                                    serviceAccount: ServiceAccount?) -> [FileSafety.Problem] {
        var checks: [(String, FileSafety.Kind)] = []
        if let configFile {
            checks += [(configFile, .config), (directory(of: configFile), .directory)]
        }
        let profile = ProfileCredentialSource(environment: environment)
        checks += [(profile.credentialsFile, .secret), (profile.configFile, .config)]
        if let key = configuration.listen.tlsKey { checks.append((key, .secret)) }
        if let key = configuration.lockout.deviceKeyFile { checks.append((key, .secret)) }
        if let postgres = configuration.state.postgres {
            if let password = postgres.passwordFile { checks.append((password, .secret)) }
            if let ca = postgres.caFile { checks.append((ca, .config)) }
        }
        if let socket = configuration.listen.socket { checks.append((directory(of: socket), .directory)) }
        var problems = checks.compactMap { FileSafety.problem(path: $0.0, kind: $0.1) }
        // The broker's files are read again after the drop, whenever credentials are refreshed.
        if let serviceAccount {
            for path in [profile.credentialsFile, profile.configFile] where !canRead(path, as: serviceAccount) {
                problems.append(FileSafety.Problem(path: path, problem: "cannot be read by \(serviceAccount.name), whom serve becomes after start-up",
                                                   fix: "chgrp \(serviceAccount.name) \(path) && chmod 0640 \(path)"))
            }
        }
        if let audit = configuration.audit.file {
            let auditDirectory = directory(of: audit)
            var info = stat()
            if let problem = FileSafety.problem(path: auditDirectory, kind: .directory, alsoOwnedBy: serviceAccount?.uid) {
                problems.append(problem)
            } else if let serviceAccount, stat(auditDirectory, &info) == 0, info.st_uid != serviceAccount.uid {
                // After a rotation the unprivileged daemon creates the new file itself.
                problems.append(FileSafety.Problem(path: auditDirectory, problem: "is owned by uid \(info.st_uid), but the daemon runs as \(serviceAccount.name) and must create the audit file there after rotation",
                                                   fix: "chown \(serviceAccount.name): \(auditDirectory) (mode 0750), e.g. /var/log/consolegate"))
            }
            if lstat(audit, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                problems.append(FileSafety.Problem(path: audit, problem: "is a symlink", fix: "remove it; consolegate creates the audit file itself"))
            } else if let problem = FileSafety.problem(path: audit, kind: .appendOnlyFile, alsoOwnedBy: serviceAccount?.uid) {
                problems.append(problem)
            }
        }
        return problems
    }

    /// By the file's own mode bits (a file that does not exist is no problem here).
    static func canRead(_ path: String, as account: ServiceAccount) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return true }
        return (info.st_uid == account.uid && info.st_mode & S_IRUSR != 0) || (info.st_gid == account.gid && info.st_mode & S_IRGRP != 0)
            || info.st_mode & S_IROTH != 0
    }

    static func directory(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }
}
