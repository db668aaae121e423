import ArgumentParser
import Foundation
import GatewayAPI
import Minting
import PAMAuth

/// `consolegate login`: the gateway's command-line client, like `aws-vault login`. It asks the person for the
/// secrets the server's PAM stack wants, without echo, and prints the URL, or credential_process JSON for the
/// AWS CLI (`credential_process = consolegate login --format credential-process …`).
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in at a ConsoleGate server and print a console URL (or credential_process JSON).",
        discussion: "Exit codes: 0 ok, 1 authentication failed, 2 usage, 3 refused, 4 the server or AWS unavailable."
    )

    @Option(name: .long, help: "The gateway, e.g. https://consolegate.example.org (default: $CONSOLEGATE_SERVER).")
    var server: String?

    @Option(name: .long, help: "Your user name (default: $USER).")
    var user: String?

    @OptionGroup var grant: GrantOptions

    @Flag(name: .long, help: "End the browser's current console session first.")
    var logoutFirst = false

    var serverURL: URL? {
        (server ?? ProcessInfo.processInfo.environment["CONSOLEGATE_SERVER"]).flatMap { URL(string: $0) }
    }

    func validate() throws {
        guard let url = serverURL, url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw ValidationError("--server (or CONSOLEGATE_SERVER) must be the gateway's URL, e.g. https://consolegate.example.org")
        }
    }

    func run() async throws {
        let server = serverURL!
        let userName = user ?? ProcessInfo.processInfo.environment["USER"] ?? ""
        guard !userName.isEmpty else { throw CommandFailure("no user name: pass --user", exitCode: .usage) }
        let transport = AsyncHTTPTransport()
        let info = try await fetch(InfoAnswer.self, transport, TransportRequest(method: "GET", url: server.appendingPathComponent("api/v1/info"), timeout: .seconds(30)))
        let wanted = info.secrets
        guard let terminal = TerminalResponder() else {
            throw CommandFailure("no terminal to ask for your password on", exitCode: .usage)
        }
        var secrets: [(kind: String, value: SecretBytes)] = []
        for kind in wanted { secrets.append((kind, try Self.ask(terminal, kind, label: nil))) }
        let devices = DeviceTokenStore(environment: ProcessInfo.processInfo.environment)
        let deviceToken = devices.token(server: server, user: userName)
        var role = grant.role
        if !info.stepUpSecrets.isEmpty {
            // Some role needs more (a step-up): ask the gateway which of this person's roles, and by what name.
            let roles = try await postSecrets(RolesAnswer.self, transport, server, "api/v1/roles", user: userName, secrets: secrets,
                                              fields: [("device_token", deviceToken)])
            let offer = roles.offers.first { role == nil || $0.role == role }
            role = role ?? offer?.role
            for kind in offer?.stepUpSecrets ?? [] where !secrets.contains(where: { $0.kind == kind }) {
                secrets.append((kind, try Self.ask(terminal, kind, label: offer?.label)))
            }
        }
        let fields = [("role", role), ("format", grant.format == .credentialProcess ? grant.requestedFormat : nil), ("logout_first", logoutFirst ? "true" : nil),
                      ("device_token", deviceToken)]
        // The device token is kept for next time, not printed.
        switch grant.format {
        case .url, .json:
            var answer = try await postSecrets(URLAnswer.self, transport, server, "api/v1/login", user: userName, secrets: secrets, fields: fields)
            if let token = answer.deviceToken { devices.save(token, server: server, user: userName) }
            answer.deviceToken = nil
            print(grant.format == .url ? answer.url : OutputFormat.jsonLine(answer))
        case .credentialProcess:
            var answer = try await postSecrets(CredentialProcessOutput.self, transport, server, "api/v1/login", user: userName, secrets: secrets, fields: fields)
            if let token = answer.deviceToken { devices.save(token, server: server, user: userName) }
            answer.deviceToken = nil
            print(OutputFormat.jsonLine(answer))
        }
    }

    static func ask(_ terminal: TerminalResponder, _ kind: String, label: String?) throws -> SecretBytes {
        let prompt = ["password": "Password", "otp": "One-time code"][kind] ?? kind
        guard let secret = terminal.ask("\(prompt)\(label.map { " for \($0)" } ?? ""): ", echo: false) else {
            throw CommandFailure("no \(kind) given", exitCode: .authenticationFailed)
        }
        return secret
    }

    /// A JSON object with the user, the secrets (as bytes, never a String) and the other fields set, built in
    /// one buffer with room for its longest form up front: growing it would leave copies of the secrets in
    /// freed memory.
    static func body(user: String, secrets: [(kind: String, value: SecretBytes)], fields: [(String, String?)]) -> [UInt8] {
        let members = [("username", user.utf8.count)] + secrets.map { ($0.kind, $0.value.count) }
            + fields.compactMap { key, value in value.map { (key, $0.utf8.count) } }
        // A byte of a string takes at most six in JSON (\u00XX); a member adds quotes, a colon and a comma.
        var body: [UInt8] = []
        body.reserveCapacity(members.reduce(2) { $0 + $1.0.utf8.count + 6 * $1.1 + 6 })
        body.append(UInt8(ascii: "{"))
        appendMember("username", user.utf8, to: &body)
        for (kind, secret) in secrets {
            secret.withUnsafeBytes { appendMember(kind, $0, to: &body) }
        }
        for case let (key, value?) in fields {
            appendMember(key, value.utf8, to: &body)
        }
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// POSTs the JSON body `body(user:secrets:fields:)` makes and wipes it once the answer is in. Wiping the
    /// caller's copy right after handing it over zeroed a fresh copy (copy-on-write) and left the request's;
    /// built here, the request holds the only reference once the transport is done, so the bytes are wiped
    /// in place. The transport's own copy is in `ByteBufferAllocator.wiping` memory.
    private func postSecrets<Answer: Decodable>(_ answer: Answer.Type, _ transport: AsyncHTTPTransport, _ server: URL, _ path: String, user: String,
                                                secrets: [(kind: String, value: SecretBytes)], fields: [(String, String?)]) async throws -> Answer {
        let request = TransportRequest(method: "POST", url: server.appendingPathComponent(path), headers: [("Content-Type", "application/json")],
                                       body: Self.body(user: user, secrets: secrets, fields: fields), timeout: .seconds(120))
        defer { wipe(storageOf: request.body) }
        return try await fetch(answer, transport, request)
    }

    private func fetch<Answer: Decodable>(_ answer: Answer.Type, _ transport: AsyncHTTPTransport, _ request: TransportRequest) async throws -> Answer {
        let response: TransportResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw CommandFailure("cannot reach \(request.url.host ?? "the server"): \(error)", exitCode: .upstreamUnavailable)
        }
        return try CommandFailure.answer(answer, of: response, from: "the server")
    }

    /// `"name":"value"`, the value escaped from its bytes, so a password never passes through a Swift String.
    private static func appendMember(_ name: String, _ value: some Sequence<UInt8>, to body: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        if body.count > 1 { body.append(UInt8(ascii: ",")) }
        body.append(UInt8(ascii: "\""))
        body.append(contentsOf: name.utf8)
        body.append(contentsOf: "\":\"".utf8)
        for byte in value {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                body.append(UInt8(ascii: "\\"))
                body.append(byte)
            case 0..<0x20:
                body.append(contentsOf: "\\u00".utf8)
                body.append(hex[Int(byte >> 4)])
                body.append(hex[Int(byte & 0xF)])
            default:
                body.append(byte)
            }
        }
        body.append(UInt8(ascii: "\""))
    }
}
