import AWSSigV4
import Authorization
import Foundation
import Gateway
import GatewayConfig
import GatewayStore
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
    /// How long each authentication takes, as a slow PAM stack would.
    let delay: Duration
    let calls = Mutex(0)
    /// Names PAM ran for, in order.
    let users = Mutex<[String]>([])
    /// Services PAM ran, in order.
    let services = Mutex<[String]>([])
    /// The step-up service's own users: one-time codes instead of passwords.
    static let stepUpService = "consolegate-otp"
    let codes: [String: String]

    init(passwords: [String: String], codes: [String: String] = [:], delay: Duration = .zero) {
        self.passwords = passwords
        self.codes = codes
        self.delay = delay
    }

    func authenticate(_ request: PAMRequest, secrets: [SecretBytes]) async -> PAMOutcome {
        calls.withLock { $0 += 1 }
        users.withLock { $0.append(request.user) }
        services.withLock { $0.append(request.service) }
        if delay > .zero { try? await Task.sleep(for: delay) }
        let given = secrets.first.map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        let expected = request.service == Self.stepUpService ? codes[request.user] : passwords[request.user]
        let ok = given != nil && secrets.count == 1 && expected == given
        return PAMOutcome(verdict: ok ? .success : .authenticationFailed, detail: ok ? "ok" : "authenticate: Authentication failure", messages: [], failDelay: .zero)
    }

    func checkAccount(_ request: PAMRequest) async -> PAMOutcome {
        PAMOutcome(verdict: passwords[request.user] != nil ? .success : .accountRefused, detail: "account", messages: [], failDelay: .zero)
    }
}

final class FakeMinter: URLMinting {
    let failure: MintingError?
    /// Answers after this long (a slow or blackholed upstream); cancellable, as real HTTP calls are.
    let delay: Duration
    /// Grants actually minted.
    let mints = Mutex(0)
    /// What each mint was asked for.
    let requests = Mutex<[MintRequest]>([])

    init(failure: MintingError? = nil, delay: Duration = .zero) {
        self.failure = failure
        self.delay = delay
    }

    func mintURL(for request: MintRequest) async throws -> MintedURL {
        if delay > .zero { try await Task.sleep(for: delay) }
        if let failure { throw failure }
        mints.withLock { $0 += 1 }
        requests.withLock { $0.append(request) }
        return MintedURL(url: URL(string: "https://signin.example/federation?Action=login&SigninToken=tok-\(request.user)")!,
                         expiresAt: Date(timeIntervalSince1970: 2_000_000_000), roleArn: request.roleArn, sessionName: SessionName.encode(request.user),
                         principalArn: "arn:aws:sts::123456789012:assumed-role/x/\(request.user)", accessKeyId: "ASIAFAKE\(request.user.uppercased())")
    }

    func credentials(for request: MintRequest) async throws -> RoleSession {
        if delay > .zero { try await Task.sleep(for: delay) }
        if let failure { throw failure }
        mints.withLock { $0 += 1 }
        return RoleSession(credentials: AWSCredentials(accessKeyId: "ASIAFAKE", secretAccessKey: "secret", sessionToken: "token", expiration: Date(timeIntervalSince1970: 2_000_000_000)),
                           principalArn: "arn", roleArn: request.roleArn, sessionName: request.user, kind: .assumedRole)
    }
}

/// The memory state, except that counting an attempt's end fails as a database that stopped answering does.
final class FinishFailingState: GatewayState {
    let inner: MemoryState
    let finishes = Mutex(0)

    init(limits: LockoutSettings) {
        inner = MemoryState(limits: limits)
    }

    func admit(user: String, address: String, device: String?) async throws -> Admission {
        await inner.admit(user: user, address: address, device: device)
    }

    func finish(_ ticket: AttemptTicket, succeeded: Bool) async throws -> Int {
        finishes.withLock { $0 += 1 }
        throw StateUnavailable("lockout finish: no answer within state.postgres.timeout (1s)")
    }

    func withdraw(_ ticket: AttemptTicket) async throws { await inner.withdraw(ticket) }
    func unlock(_ key: LockoutKey) async throws -> Bool { await inner.unlock(key) }
    func holdRoleChoice(_ choice: RoleChoice, for lifetime: Duration) async throws { await inner.holdRoleChoice(choice, for: lifetime) }
    func takeRoleChoice(tokenDigest: String) async throws -> RoleChoice? { await inner.takeRoleChoice(tokenDigest: tokenDigest) }
    func claimOneTimeCode(digest: String, validity: Duration) async throws -> Bool { await inner.claimOneTimeCode(digest: digest, validity: validity) }
    func health() async -> StateHealth { await inner.health() }
}

struct FakeDirectory: UserDirectory {
    var groups: [String: [String]]
    var uids: [UInt32: String] = [0: "root", 1001: "alice", 1002: "ops", 1003: "bob"]
    func groups(of user: String) -> [String]? { groups[user] }
    func userName(uid: UInt32) -> String? { uids[uid] }
}

/// A gateway on a free loopback port with fakes around the real HTTP layer, lockout and audit log.
struct GatewayHarness {
    static let readOnly = "arn:aws:iam::123456789012:role/ReadOnly"
    static let admin = "arn:aws:iam::123456789012:role/Admin"
    static let billing = "arn:aws:iam::123456789012:role/Billing"

    let directory: URL
    let configuration: GatewayConfiguration
    let service: LoginService
    let authenticator: FakeAuthenticator
    let minter: FakeMinter

    init(trustedProxies: [String] = [], failureFloor: Duration = .zero, perUser: Int = 3, perAddress: Int = 3, perUserInFlight: Int = 1,
         perAddressInFlight: Int = 8, minter: FakeMinter = FakeMinter(), pamDelay: Duration = .zero, loginTimeout: Duration = .seconds(15),
         adminGroup: String? = nil, auditPath: String? = nil, state: ((LockoutSettings) -> any GatewayState)? = nil, adminStepUp: Bool = false) {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-gw-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // With `adminStepUp`, the admin role also needs a one-time code, checked by its own PAM service.
        let admin = adminStepUp
            ? AccessRule(role: Self.admin, groups: ["admins"], pamService: FakeAuthenticator.stepUpService, secrets: [.password, .otp], label: "Administrator")
            : AccessRule(role: Self.admin, groups: ["admins"])
        var configuration = GatewayConfiguration(aws: AWSSettings(strategy: .assumeRole, loginTimeout: loginTimeout), access: [
            admin,
            AccessRule(role: Self.readOnly, users: ["alice"], groups: ["staff"], region: "eu-west-1", label: "Read-only"),
            AccessRule(role: Self.billing, groups: ["finance"]),
        ])
        configuration.trustedProxies = trustedProxies
        configuration.lockout = LockoutSettings(perUser: perUser, perAddress: perAddress, perUserInFlight: perUserInFlight,
                                                perAddressInFlight: perAddressInFlight, window: .seconds(60), duration: .seconds(60), failureFloor: failureFloor)
        configuration.adminGroup = adminGroup
        self.configuration = configuration
        self.minter = minter
        authenticator = FakeAuthenticator(passwords: ["alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dana": "dana-pw", "root": "root-pw"],
                                          codes: ["bob": "123456", "dana": "654321"], delay: pamDelay)
        let audit = AuditLog(path: auditPath ?? directory.appendingPathComponent("audit.jsonl").path)
        service = LoginService(
            configuration: configuration, authenticator: authenticator,
            policy: AccessPolicy(configuration: configuration, directory: FakeDirectory(groups: ["bob": ["staff", "admins"], "alice": [], "carol": [], "dana": ["admins"], "root": ["root"], "ops": ["wheel"]])),
            minter: minter, audit: audit, state: state?(configuration.lockout) ?? MemoryState(limits: configuration.lockout),
            deviceTokens: DeviceTokens(keys: [Array("a test key that is at least 32 characters long".utf8)], lifetime: .seconds(3600)),
            logger: Logger(label: "test")
        )
    }

    var auditLines: [[String: Any]] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("audit.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func application() -> some ApplicationProtocol {
        Application(router: GatewayRoutes(service: service, configuration: configuration).apiRouter(), server: try! GatewayServer.apiServer(configuration, gate: .alreadyOpen()),
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

/// A service call's outcome as a `Result`, so that a test can compare its failure.
func serviceResult<T>(_ call: @autoclosure () async throws(LoginFailure) -> T) async -> Result<T, LoginFailure> {
    do {
        return .success(try await call())
    } catch {
        return .failure(error)
    }
}
