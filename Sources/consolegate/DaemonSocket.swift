import Foundation
import Minting

/// A JSON request to the local daemon over its Unix socket, for `consolegate url` and `consolegate unlock`.
struct DaemonSocket {
    let path: String

    /// The answer's status and JSON object; a failure that says what to do when the socket cannot be used.
    func post(_ route: String, _ body: [String: Any], timeout: Duration) async throws -> (status: Int, object: [String: Any]) {
        guard let url = AsyncHTTPTransport.unixSocketURL(socketPath: path, path: route) else {
            throw CommandFailure("\(path) is not a socket path", exitCode: .usage)
        }
        let request = TransportRequest(method: "POST", url: url, headers: [("Content-Type", "application/json")],
                                       body: Array(try JSONSerialization.data(withJSONObject: body)), timeout: timeout)
        // Say "not allowed" rather than "not running" when the socket's mode or group keeps this user out.
        if access(path, F_OK) == 0, access(path, R_OK | W_OK) != 0 {
            throw CommandFailure("you may not use the ConsoleGate socket \(path); ask to be added to its group", exitCode: .awsRefused)
        }
        let response: TransportResponse
        do {
            response = try await AsyncHTTPTransport(environment: [:]).send(request)
        } catch {
            throw CommandFailure("cannot reach the ConsoleGate daemon at \(path); is it running?", exitCode: .upstreamUnavailable)
        }
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }
}
