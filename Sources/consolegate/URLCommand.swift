import ArgumentParser
import Foundation
import GatewayAPI
import Minting

/// `consolegate url`: asks the local gateway daemon for a console URL for whoever runs it. The daemon
/// learns who that is from the kernel (SO_PEERCRED), not from anything this client says. As an SSH
/// ForceCommand it reads its options from SSH_ORIGINAL_COMMAND.
struct URLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "url",
        abstract: "Print a console sign-in URL for the calling user, from the local ConsoleGate daemon.",
        discussion: """
        As an SSH ForceCommand, the options come from the client's command (SSH_ORIGINAL_COMMAND), \
        e.g. `ssh gate 'url --role arn:aws:iam::123456789012:role/ConsoleReadOnly'`. Exit codes: 0 ok, \
        2 usage, 3 refused (not allowed, or AWS refused), 4 the daemon or AWS unavailable.
        """
    )
    static let defaultSocket = "/run/consolegate/consolegate.sock"
    static let usageLine = "usage: url [--role ARN] [--destination URL] [--format url|json|credential-process]"

    @OptionGroup var grant: GrantOptions

    @Option(name: .long, help: "A console URL to land on.")
    var destination: String?

    @OptionGroup var daemon: SocketOption

    func run() async throws {
        var request = self
        if let original = ProcessInfo.processInfo.environment["SSH_ORIGINAL_COMMAND"] {
            try request.apply(sshCommand: original)
        }
        try await request.ask()
    }

    /// Only the user-facing options are taken from the SSH client.
    mutating func apply(sshCommand: String) throws {
        guard let command = try? SSHOriginalCommand(parsing: sshCommand) else { throw CommandFailure(Self.usageLine, exitCode: .usage) }
        grant.role = command.role ?? grant.role
        destination = command.destination ?? destination
        if let name = command.format {
            guard let parsed = OutputFormat(rawValue: name) else { throw CommandFailure(Self.usageLine, exitCode: .usage) }
            grant.format = parsed
        }
    }

    func ask() async throws {
        let socket = DaemonSocket(path: daemon.socket)
        let request = SocketURLRequest(format: grant.requestedFormat, role: grant.role, destination: destination)
        switch grant.format {
        case .url:
            print(try await socket.post("/v1/url", request, answer: URLAnswer.self, timeout: .seconds(60)).url)
        case .json:
            print(OutputFormat.jsonLine(try await socket.post("/v1/url", request, answer: URLAnswer.self, timeout: .seconds(60))))
        case .credentialProcess:
            print(OutputFormat.jsonLine(try await socket.post("/v1/url", request, answer: CredentialProcessOutput.self, timeout: .seconds(60))))
        }
    }
}
