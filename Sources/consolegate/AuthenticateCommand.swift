import ArgumentParser
import Foundation
import PAMAuth

/// `consolegate authenticate`: checks a login against a PAM service the way the gateway will, for operators
/// testing their PAM stack.
struct AuthenticateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authenticate",
        abstract: "Authenticate a user against a PAM service, in the privilege-separated helper.",
        discussion: """
        Exit codes: 0 authenticated, 1 any authentication failure (one generic message; details with \
        --verbose), 2 usage error. Without --password-stdin every PAM prompt is shown at the terminal.
        """
    )

    @Option(name: .long, help: "The PAM service (a file in /etc/pam.d).")
    var service: String

    @Option(name: .long, help: "The user to authenticate.")
    var user: String

    @Flag(name: .long, help: "Read the answers from stdin, one per line: the password, then a one-time code, …")
    var passwordStdin = false

    @Option(name: .long, help: "Kill the PAM worker after this many seconds.")
    var timeout: Int = 30

    @Flag(name: .long, help: "Say why an authentication failed (PAM's own words); for operators only.")
    var verbose = false

    func validate() throws {
        guard !service.isEmpty, !service.contains("/") else { throw ValidationError("--service must be a PAM service name") }
        guard !user.isEmpty, !user.contains(where: { $0.isNewline || $0 == "\0" }) else { throw ValidationError("--user must be a user name") }
        guard (1...600).contains(timeout) else { throw ValidationError("--timeout must be 1–600 seconds") }
    }

    func run() async throws {
        let authenticator: PAMAuthenticator
        do {
            authenticator = try PAMAuthenticator(service: service, timeout: .seconds(timeout), maxConcurrent: 1)
        } catch {
            throw CommandFailure("\(error)", exitCode: .upstreamUnavailable)
        }
        let outcome: PAMOutcome
        if passwordStdin {
            let request = PAMRequest(service: service, user: user, tty: nil)
            outcome = await authenticator.authenticate(request, secrets: SecretLines.read(from: STDIN_FILENO))
        } else {
            guard let terminal = TerminalResponder() else {
                throw CommandFailure("no terminal to ask on; use --password-stdin", exitCode: .usage)
            }
            outcome = await authenticator.run(PAMRequest(service: service, user: user, tty: terminal.ttyName), responder: terminal)
        }
        guard outcome.succeeded else {
            var message = "authentication failed"
            if verbose {
                message += " (\(outcome.detail))"
                for text in outcome.messages { message += "\n  PAM says: \(text.text)" }
            }
            throw CommandFailure(message, exitCode: .authenticationFailed)
        }
        print("authenticated \(user)")
    }
}
