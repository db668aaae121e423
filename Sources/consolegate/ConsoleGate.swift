import ArgumentParser
import Foundation
import GatewayAPI

struct ConsoleGate: AsyncParsableCommand {
    /// The release; scripts/package-deb.sh names the package after it (`consolegate --version`).
    static let version = "0.9.0"

    static let configuration = CommandConfiguration(
        commandName: "consolegate",
        abstract: "Sign people with a Linux or LDAP login in to the AWS Management Console.",
        version: version,
        subcommands: [ServeCommand.self, URLCommand.self, LoginCommand.self, UnlockCommand.self, SessionsCommand.self, RevokeCommand.self, AuditCommand.self, MigrateCommand.self, MintCommand.self, AuthenticateCommand.self, CheckConfigCommand.self]
    )

    /// Our exit codes instead of ArgumentParser's: 2 for every usage error (it would use 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("consolegate: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data("\(message)\n".utf8))
            Foundation.exit(code == .validationFailure ? ExitStatus.usage.rawValue : code.rawValue)
        }
    }
}
