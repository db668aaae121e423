import GatewayAPI
import GatewayConfig
import Minting

/// A failure to report on stderr, with its exit code; never a stack trace or a secret.
struct CommandFailure: Error {
    var message: String
    var exitCode: ExitStatus

    init(_ message: String, exitCode: ExitStatus) {
        self.message = message
        self.exitCode = exitCode
    }

    /// What the gateway or the daemon refused, in its words, with the exit code its failure has
    /// (`Failure.row`). An answer that is not the gateway's own (a proxy's error page) is read as the first
    /// failure with its status.
    init(refusal body: [UInt8], status: Int, from whom: String) {
        guard let answer = APIJSON.decode(ErrorAnswer.self, from: body) else {
            self.init("\(whom) answered HTTP \(status)", exitCode: Failure.allCases.first { $0.status == status }?.exitCode ?? .upstreamUnavailable)
            return
        }
        let roles = answer.allowedRoles.map { $0.isEmpty ? "" : "; your roles: \($0.joined(separator: ", "))" } ?? ""
        self.init(answer.error + roles, exitCode: answer.failure.exitCode)
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
