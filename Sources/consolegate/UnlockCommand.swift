import ArgumentParser
import Foundation
import Gateway
import GatewayAPI
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
        let answer = try await DaemonSocket(path: daemon.socket).post("/v1/unlock", SocketUnlockRequest(target: target), answer: UnlockAnswer.self,
                                                                      timeout: .seconds(30))
        print(answer.unlocked.map { "unlocked \($0)" } ?? answer.message ?? "nothing to unlock")
    }
}
