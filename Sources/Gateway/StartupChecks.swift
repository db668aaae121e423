import Foundation
import GatewayConfig
import Minting
#if canImport(Glibc)
import Glibc
#endif

/// The files `serve` trusts, checked before it starts (and by `check-config`): the config and its
/// directory, the broker's shared AWS files, keys, and the directories the daemon writes into.
public enum StartupChecks {
    public static func fileProblems(configFile: String?, configuration: GatewayConfiguration, environment: [String: String]) -> [FileSafety.Problem] {
        var checks: [(String, FileSafety.Kind)] = []
        if let configFile {
            checks += [(configFile, .config), (directory(of: configFile), .directory)]
        }
        let profile = ProfileCredentialSource(environment: environment)
        checks += [(profile.credentialsFile, .secret), (profile.configFile, .config)]
        if let key = configuration.listen.tlsKey { checks.append((key, .secret)) }
        if let key = configuration.lockout.deviceKeyFile { checks.append((key, .secret)) }
        if let socket = configuration.listen.socket { checks.append((directory(of: socket), .directory)) }
        var problems = checks.compactMap { FileSafety.problem(path: $0.0, kind: $0.1) }
        if let audit = configuration.audit.file {
            if let problem = FileSafety.problem(path: directory(of: audit), kind: .directory) { problems.append(problem) }
            var info = stat()
            if lstat(audit, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                problems.append(FileSafety.Problem(path: audit, problem: "is a symlink", fix: "remove it; consolegate creates the audit file itself"))
            } else if let problem = FileSafety.problem(path: audit, kind: .appendOnlyFile) {
                problems.append(problem)
            }
        }
        return problems
    }

    static func directory(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }
}
