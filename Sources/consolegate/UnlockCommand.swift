import ArgumentParser
import Foundation
import Gateway
import Minting

/// `consolegate unlock USER|ADDRESS`: for operators, through the local socket. The daemon checks who asks
/// (SO_PEERCRED: root or a member of `admin_group`) and audits it either way.
struct UnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "End the lockout of a user name or a client address (root or admin_group only).",
        discussion: "Exit codes: 0 unlocked (or nothing was locked), 2 usage, 3 not permitted, 4 the daemon unavailable."
    )

    @Argument(help: "A user name, or an IPv4/IPv6 address.")
    var target: String

    @OptionGroup var daemon: SocketOption

    func validate() throws {
        // Names and addresses alike: what the daemon would accept as a user name.
        guard LoginService.isAcceptableUserName(target) else {
            throw ValidationError("give a user name or an address")
        }
    }

    func run() async throws {
        let (status, object) = try await DaemonSocket(path: daemon.socket).post("/v1/unlock", ["target": target], timeout: .seconds(30))
        switch status {
        case 200:
            print((object["unlocked"] as? String).map { "unlocked \($0)" } ?? (object["message"] as? String ?? "nothing to unlock"))
        case 403:
            throw CommandFailure(object["error"] as? String ?? "not permitted", exitCode: .awsRefused)
        case 400:
            throw CommandFailure(object["error"] as? String ?? "bad request", exitCode: .usage)
        default:
            throw CommandFailure(object["error"] as? String ?? "the daemon answered HTTP \(status)", exitCode: .upstreamUnavailable)
        }
    }
}
