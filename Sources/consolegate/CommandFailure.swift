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

    /// The gateway's or the daemon's answer (`whom`: "the server", "the daemon") as the `GatewayAPI` type
    /// asked for, or what it refused, in its words, with the exit code its failure has (`Failure.row`). A
    /// refusal that is not the gateway's own (a proxy's error page) is read as the first failure with its
    /// status.
    static func answer<Answer: Decodable>(_ type: Answer.Type, of response: TransportResponse, from whom: String) throws(CommandFailure) -> Answer {
        guard response.status == 200 else {
            guard let refusal = APIJSON.decode(ErrorAnswer.self, from: response.body) else {
                throw CommandFailure("\(whom) answered HTTP \(response.status)",
                                     exitCode: Failure.allCases.first { $0.status == response.status }?.exitCode ?? .upstreamUnavailable)
            }
            let roles = refusal.allowedRoles.map { $0.isEmpty ? "" : "; your roles: \($0.joined(separator: ", "))" } ?? ""
            throw CommandFailure(refusal.error + roles, exitCode: refusal.failure.exitCode)
        }
        guard let answer = APIJSON.decode(type, from: response.body) else {
            throw CommandFailure("\(whom)'s answer is not what this consolegate expects; is it ConsoleGate of the same version?", exitCode: .upstreamUnavailable)
        }
        return answer
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
