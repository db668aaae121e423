import Foundation
import GatewayAPI
#if canImport(Glibc)
import Glibc
#endif

/// Where `consolegate login` keeps the device tokens that gateways hand out after a successful sign-in, per
/// server and user: `$XDG_STATE_HOME/consolegate/device-tokens.json` (0600, in a 0700 directory). With its
/// token, this client's own failed guesses count against the device, so a lock that someone else caused on
/// the user name does not keep this client out.
struct DeviceTokenStore {
    let file: String

    init(environment: [String: String]) {
        let state = environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? "\(environment["HOME"] ?? NSHomeDirectory())/.local/state"
        file = "\(state)/consolegate/device-tokens.json"
    }

    static func key(server: URL, user: String) -> String { "\(server.absoluteString)|\(user)" }

    func token(server: URL, user: String) -> String? {
        tokens()[Self.key(server: server, user: user)]
    }

    /// Best effort: a client that cannot save its token still signs in, only without the device's protection.
    func save(_ token: String, server: URL, user: String) {
        var all = tokens()
        all[Self.key(server: server, user: user)] = token
        let directory = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = APIJSON.encode(all)
        let temporary = "\(file).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        if written == data.count { rename(temporary, file) } else { unlink(temporary) }
    }

    private func tokens() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: file) else { return [:] }
        return APIJSON.decode([String: String].self, from: Array(data)) ?? [:]
    }
}
