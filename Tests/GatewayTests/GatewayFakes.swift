import AWSSigV4
import Authorization
import Foundation
import Gateway
import GatewayConfig
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Minting
import PAMAuth
import Synchronization

/// Stand-ins for the steps around the HTTP layer: PAM users from a dictionary, a minter that makes up URLs.
final class FakeAuthenticator: Authenticating {
    let passwords: [String: String]
    let calls = Mutex(0)

    init(passwords: [String: String]) {
        self.passwords = passwords
    }

    func authenticate(_ request: PAMRequest, secrets: [SecretBytes]) async -> PAMOutcome {
        calls.withLock { $0 += 1 }
        let given = secrets.first.map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        let ok = given != nil && passwords[request.user] == given
        return PAMOutcome(verdict: ok ? .success : .authenticationFailed, detail: ok ? "ok" : "authenticate: Authentication failure", messages: [], failDelay: .zero)
    }

    func checkAccount(_ request: PAMRequest) async -> PAMOutcome {
        PAMOutcome(verdict: passwords[request.user] != nil ? .success : .accountRefused, detail: "account", messages: [], failDelay: .zero)
    }
}

struct FakeMinter: URLMinting {
    var failure: MintingError?

    func mintURL(for request: MintRequest) async throws -> MintedURL {
        if let failure { throw failure }
        return MintedURL(url: URL(string: "https://signin.example/federation?Action=login&SigninToken=tok-\(request.user)")!,
                         expiresAt: Date(timeIntervalSince1970: 2_000_000_000), roleArn: request.roleArn, sessionName: SessionName.encode(request.user),
                         principalArn: "arn:aws:sts::123456789012:assumed-role/x/\(request.user)", accessKeyId: "ASIAFAKE\(request.user.uppercased())")
    }

    func credentials(for request: MintRequest) async throws -> RoleSession {
        if let failure { throw failure }
        return RoleSession(credentials: AWSCredentials(accessKeyId: "ASIAFAKE", secretAccessKey: "secret", sessionToken: "token", expiration: Date(timeIntervalSince1970: 2_000_000_000)),
                           principalArn: "arn", roleArn: request.roleArn, sessionName: request.user, kind: .assumedRole)
    }
}

struct FakeDirectory: UserDirectory {
    var groups: [String: [String]]
    func groups(of user: String) -> [String]? { groups[user] }
    func userName(uid: UInt32) -> String? { nil }
}

/// A gateway on a free loopback port with fakes around the real HTTP layer, lockout and audit log.
struct GatewayHarness {
    static let readOnly = "arn:aws:iam::123456789012:role/ReadOnly"
    static let admin = "arn:aws:iam::123456789012:role/Admin"
    static let billing = "arn:aws:iam::123456789012:role/Billing"

    let directory: URL
    let configuration: GatewayConfiguration
    let service: LoginService

    init(trustedProxies: [String] = [], failureFloor: Double = 0, maxFailures: Int = 3, minter: FakeMinter = FakeMinter(), auditPath: String? = nil) {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-gw-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = GatewayConfiguration(aws: AWSSettings(strategy: .assumeRole), access: [
            AccessRule(role: Self.admin, groups: ["admins"]),
            AccessRule(role: Self.readOnly, users: ["alice"], groups: ["staff"]),
            AccessRule(role: Self.billing, groups: ["finance"]),
        ])
        configuration.trustedProxies = trustedProxies
        configuration.lockout = LockoutSettings(maxFailures: maxFailures, window: 60, duration: 60, failureFloor: failureFloor)
        self.configuration = configuration
        let audit = AuditLog(path: auditPath ?? directory.appendingPathComponent("audit.jsonl").path)
        service = LoginService(
            configuration: configuration,
            authenticator: FakeAuthenticator(passwords: ["alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"]),
            policy: AccessPolicy(configuration: configuration, directory: FakeDirectory(groups: ["bob": ["staff", "admins"], "alice": [], "carol": []])),
            minter: minter, audit: audit,
            lockout: LockoutTracker(maxFailures: maxFailures, window: .seconds(60), duration: .seconds(60)),
            logger: Logger(label: "test")
        )
    }

    var auditLines: [[String: Any]] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("audit.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func application() -> some ApplicationProtocol {
        Application(router: GatewayRoutes(service: service, configuration: configuration).apiRouter(),
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func json(_ object: [String: String]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static let jsonHeaders: HTTPFields = [.contentType: "application/json"]
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }
}
