import ArgumentParser
import GatewayConfig

/// Which role to take and how to print what comes back: `url`, `login` and `mint` alike.
struct GrantOptions: ParsableArguments {
    @Option(name: .long, help: "The IAM role ARN to take; default: your first role in the access rules.")
    var role: String?

    @Option(name: .long, help: "url, json or credential-process.")
    var format: OutputFormat = .url

    /// The request body's `format` field.
    var requestedFormat: String { format == .credentialProcess ? "credential-process" : "url" }
}

/// The daemon's local socket: `url` and `unlock`.
struct SocketOption: ParsableArguments {
    @Option(name: .long, help: "The daemon's socket.")
    var socket: String = URLCommand.defaultSocket
}

/// The config file: `serve`, `mint`, and the commands an operator runs on a gateway host (`audit`, `sessions`,
/// `revoke`, `migrate`).
struct ConfigFileOption: ParsableArguments {
    @Option(name: .long, help: "The ConsoleGate YAML config file.")
    var config = "/etc/consolegate/config.yaml"

    func load() throws(CommandFailure) -> GatewayConfiguration {
        try GatewayConfiguration.forCommand(config)
    }
}
