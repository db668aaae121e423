import ArgumentParser
import Foundation
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

    @Option(name: .long, help: "The role to take; default: your first role.")
    var role: String?

    @Option(name: .long, help: "A console URL to land on.")
    var destination: String?

    @Option(name: .long, help: "url, json or credential-process.")
    var format: OutputFormat = .url

    @Option(name: .long, help: "The daemon's socket.")
    var socket: String = URLCommand.defaultSocket

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
        role = command.role ?? role
        destination = command.destination ?? destination
        if let name = command.format {
            guard let parsed = OutputFormat(rawValue: name) else { throw CommandFailure(Self.usageLine, exitCode: .usage) }
            format = parsed
        }
    }

    func ask() async throws {
        guard let url = AsyncHTTPTransport.unixSocketURL(socketPath: socket, path: "/v1/url") else {
            throw CommandFailure("\(socket) is not a socket path", exitCode: .usage)
        }
        var body: [String: Any] = ["format": format == .credentialProcess ? "credential-process" : "url"]
        if let role { body["role"] = role }
        if let destination { body["destination"] = destination }
        let request = TransportRequest(
            method: "POST", url: url, headers: [("Content-Type", "application/json")],
            body: Array(try JSONSerialization.data(withJSONObject: body)), timeout: .seconds(60)
        )
        // Say "not allowed" rather than "not running" when the socket's mode or group keeps this user out.
        if access(socket, F_OK) == 0, access(socket, R_OK | W_OK) != 0 {
            throw CommandFailure("you may not use the ConsoleGate socket \(socket); ask to be added to its group", exitCode: .awsRefused)
        }
        let response: TransportResponse
        do {
            response = try await AsyncHTTPTransport(environment: [:]).send(request)
        } catch {
            throw CommandFailure("cannot reach the ConsoleGate daemon at \(socket); is it running?", exitCode: .upstreamUnavailable)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        guard response.status == 200 else {
            throw Self.failure(status: response.status, object: object)
        }
        switch format {
        case .url:
            guard let url = object["url"] as? String else { throw CommandFailure("the daemon sent no URL", exitCode: .upstreamUnavailable) }
            print(url)
        case .json, .credentialProcess:
            print(OutputFormat.jsonLine(object))
        }
    }

    static func failure(status: Int, object: [String: Any]) -> CommandFailure {
        let message = object["error"] as? String ?? "the daemon answered HTTP \(status)"
        switch status {
        case 401:
            return CommandFailure("your account may not sign in now (expired or locked); ask your administrator", exitCode: .awsRefused)
        case 403:
            let allowed = (object["allowed_roles"] as? [String]).map { $0.isEmpty ? "" : "; your roles: \($0.joined(separator: ", "))" } ?? ""
            return CommandFailure(message + allowed, exitCode: .awsRefused)
        case 400:
            return CommandFailure(message, exitCode: .usage)
        case 502:
            return CommandFailure(message, exitCode: .awsRefused)
        default:
            return CommandFailure(message, exitCode: .upstreamUnavailable)
        }
    }
}
