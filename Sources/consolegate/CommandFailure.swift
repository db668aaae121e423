import GatewayConfig
import Minting

/// The exit codes every ConsoleGate command shares.
enum ExitStatus: Int32 {
    case success = 0
    case authenticationFailed = 1
    case usage = 2
    case awsRefused = 3
    case upstreamUnavailable = 4
}

/// A failure to report on stderr, with its exit code; never a stack trace or a secret.
struct CommandFailure: Error {
    var message: String
    var exitCode: ExitStatus

    init(_ message: String, exitCode: ExitStatus) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let config as ConfigError:
            self.init("config: \(config)", exitCode: .usage)
        case let minting as MintingError:
            switch minting {
            case .awsRefused, .federationRefused:
                self.init(minting.description, exitCode: .awsRefused)
            case .upstreamUnavailable, .malformedResponse:
                self.init(minting.description, exitCode: .upstreamUnavailable)
            case .noBrokerCredentials, .brokerCredentials, .invalidRequest:
                self.init(minting.description, exitCode: .usage)
            }
        default:
            self.init("unexpected failure: \(error)", exitCode: .upstreamUnavailable)
        }
    }
}

extension GatewayConfiguration {
    /// The config file a command was given, or the failure (exit 2) that says what is wrong with it.
    static func forCommand(_ file: String) throws(CommandFailure) -> GatewayConfiguration {
        do {
            return try load(file: file)
        } catch {
            throw CommandFailure(error)
        }
    }
}
