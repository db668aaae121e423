import ArgumentParser
import Foundation
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

    @Option(name: .long, help: "The daemon's socket.")
    var socket: String = URLCommand.defaultSocket

    func validate() throws {
        guard !target.isEmpty, target.utf8.count <= 256, !target.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ValidationError("give a user name or an address")
        }
    }

    func run() async throws {
        guard let url = AsyncHTTPTransport.unixSocketURL(socketPath: socket, path: "/v1/unlock") else {
            throw CommandFailure("\(socket) is not a socket path", exitCode: .usage)
        }
        let request = TransportRequest(method: "POST", url: url, headers: [("Content-Type", "application/json")],
                                       body: Array(try JSONSerialization.data(withJSONObject: ["target": target])), timeout: .seconds(30))
        let response: TransportResponse
        do {
            response = try await AsyncHTTPTransport(environment: [:]).send(request)
        } catch {
            throw CommandFailure("cannot reach the ConsoleGate daemon at \(socket); is it running, and may you use it?", exitCode: .upstreamUnavailable)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        switch response.status {
        case 200:
            print((object["unlocked"] as? String).map { "unlocked \($0)" } ?? (object["message"] as? String ?? "nothing to unlock"))
        case 403:
            throw CommandFailure(object["error"] as? String ?? "not permitted", exitCode: .awsRefused)
        case 400:
            throw CommandFailure(object["error"] as? String ?? "bad request", exitCode: .usage)
        default:
            throw CommandFailure(object["error"] as? String ?? "the daemon answered HTTP \(response.status)", exitCode: .upstreamUnavailable)
        }
    }
}
