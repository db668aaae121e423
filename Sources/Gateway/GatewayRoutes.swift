import Foundation
import GatewayAPI
import GatewayConfig
import Hummingbird
import HTTPTypes
import Minting
import NIOCore
import PAMAuth
import Prometheus
import Revocation
import Secrets

/// The HTTP front ends: the JSON API on TCP, and the local socket for `consolegate url`.
public struct GatewayRoutes: Sendable {
    let service: LoginService
    let clientAddress: ClientAddress
    let secretKinds: [SecretKind]
    /// What some role needs beyond `secretKinds` (its step-up); `/api/v1/roles` says which role.
    let stepUpSecretKinds: [SecretKind]
    /// Each role's label, for pages that name a role without knowing whose it is.
    let roleLabels: [String: String]
    let logoutFirstDefault: Bool
    let tlsEnabled: Bool
    /// The sign-in endpoint's origin and the console's: where the login form's redirects lead.
    let formActions: [String]
    /// `consolegate revoke --through-daemon`; nil where sessions belong to no role (federation-token).
    let revocations: Revocations?

    public init(service: LoginService, configuration: GatewayConfiguration, revocations: Revocations? = nil) {
        self.service = service
        self.revocations = revocations
        self.clientAddress = ClientAddress(trustedProxies: Set(configuration.trustedProxies))
        self.secretKinds = configuration.pam.secrets
        let stepUps = configuration.access.flatMap { $0.stepUpSecrets(base: configuration.pam.secrets) }
        self.stepUpSecretKinds = SecretKind.allCases.filter(stepUps.contains)
        self.roleLabels = Dictionary(configuration.access.map { ($0.role, $0.displayName) }) { first, _ in first }
        self.logoutFirstDefault = configuration.aws.logoutFirst
        self.tlsEnabled = configuration.listen.tlsCertificate != nil
        let aws = configuration.aws
        let signin = aws.signinEndpoint ?? aws.partition.signinEndpoint(region: aws.region)
        let signinOrigin = "\(signin.scheme ?? "https")://\(signin.host ?? "")\(signin.port.map { ":\($0)" } ?? "")"
        self.formActions = ["'self'", signinOrigin, "https://\(aws.partition.consoleHost)", "https://*.\(aws.partition.consoleHost)"]
    }

    public func apiRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self, options: .autoGenerateHeadEndpoints)
        router.middlewares.add(SecurityHeadersMiddleware(strictTransportSecurity: tlsEnabled, formActions: formActions))
        router.middlewares.add(CrossSiteRefusalMiddleware())
        router.get("/healthz") { _, _ in JSONAnswer.health(await service.health()) }
        router.get("/api/v1/info") { _, _ in
            // What a client must ask a person for; nothing secret.
            JSONAnswer.encode(.ok, InfoAnswer(secrets: secretKinds.map(\.rawValue), stepUpSecrets: stepUpSecretKinds.map(\.rawValue),
                                              logoutFirst: logoutFirstDefault))
        }
        router.post("/api/v1/login") { request, context in try await login(request, context: context) }
        router.get("/api/v1/roles") { request, context in try await roles(request, context: context) }
        router.post("/api/v1/roles") { request, context in try await postedRoles(request, context: context) }
        addWebRoutes(to: router)
        return router
    }

    /// Prometheus on its own listener (`listen.metrics`), never on the login listener: the counts per outcome
    /// are for operators, not for whoever can reach the login page.
    public static func metricsRouter(_ metrics: PrometheusCollectorRegistry) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self, options: .autoGenerateHeadEndpoints)
        router.middlewares.add(SecurityHeadersMiddleware())
        router.get("/metrics") { _, _ in
            var text: [UInt8] = []
            metrics.emit(into: &text)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        return router
    }

    public func socketRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self, options: .autoGenerateHeadEndpoints)
        router.middlewares.add(SecurityHeadersMiddleware())
        router.get("/healthz") { _, _ in JSONAnswer.health(await service.health()) }
        router.post("/v1/url") { request, context in try await socketURL(request, context: context) }
        router.post("/v1/unlock") { request, context in try await socketUnlock(request, context: context) }
        router.post("/v1/revoke") { request, context in try await socketRevoke(request, context: context) }
        return router
    }

    // MARK: - JSON API

    /// The body's `username`, when it is one a front end accepts, and its `password` is there: a request
    /// without one is a mistake, not a guess to count.
    static func userWithPassword(in fields: RequestFields) throws -> String {
        guard let user = try fields.text("username") else { throw Refusal(.invalidRequest, "username is required") }
        guard LoginService.isAcceptableUserName(user) else {
            throw Refusal(.invalidRequest, "username must be at most 256 bytes, without control characters")
        }
        guard try fields.bytes("password") != nil else { throw Refusal(.invalidRequest, "password is required") }
        return user
    }

    /// Whether the request asks for credentials (`format: credential-process`) rather than a URL (`url`, the default).
    static func wantsCredentials(format: String?) throws -> Bool {
        switch format ?? "url" {
        case "url": false
        case "credential-process": true
        default: throw Refusal(.invalidRequest, "format must be url or credential-process")
        }
    }

    /// The request's `destination`, when there is one: an absolute console URL.
    static func destination(_ text: String?) throws -> URL? {
        guard let text else { return nil }
        guard let url = URL(string: text), url.host != nil else { throw Refusal(.invalidRequest, "destination must be an absolute console URL") }
        return url
    }

    func login(_ request: Request, context: GatewayContext) async throws -> Response {
        try await request.withFields(.json) { fields in
            let user = try Self.userWithPassword(in: fields)
            let secrets = try Self.givenSecrets { try fields.bytes($0.rawValue) }
            let attempt = LoginAttempt(
                user: user, secrets: secrets, role: try fields.text("role"), destination: try Self.destination(try fields.text("destination")), region: try fields.text("region"),
                wantsCredentials: try Self.wantsCredentials(format: try fields.text("format")), logoutFirst: try fields.flag("logout_first"), frontEnd: .api,
                client: client(request, context), requestId: context.id, deviceToken: try fields.text("device_token"),
                isClientConnected: Self.connected(context)
            )
            let grant = try await service.login(attempt)
            return JSONAnswer.grant(grant, deviceToken: service.deviceTokens.issue(user: user))
        }
    }

    /// `Authorization: Basic` with the password; a one-time code, where the stack asks for one, in
    /// `X-ConsoleGate-OTP`; a device token in `X-ConsoleGate-Device`.
    func roles(_ request: Request, context: GatewayContext) async throws -> Response {
        guard let header = request.headers[.authorization], let credentials = BasicCredentials(header: header) else {
            throw LoginFailure.authenticationFailed
        }
        var secrets: [SecretKind: SecretBytes] = [.password: SecretBytes(copying: credentials.password)]
        wipe(storageOf: credentials.password)
        if secretKinds.contains(.otp), let otp = request.headers[Self.otpHeader] {
            secrets[.otp] = SecretBytes(copying: Array(otp.utf8))
        }
        let attempt = LoginAttempt(user: credentials.user, secrets: secrets, frontEnd: .api, client: client(request, context), requestId: context.id,
                                   deviceToken: request.headers[Self.deviceHeader], isClientConnected: Self.connected(context))
        return try await rolesAnswer(attempt)
    }

    /// The same as a JSON body (username, the base secrets, device_token): the secrets stay bytes.
    func postedRoles(_ request: Request, context: GatewayContext) async throws -> Response {
        try await request.withFields(.json) { fields in
            let attempt = LoginAttempt(user: try Self.userWithPassword(in: fields), secrets: try Self.givenSecrets { try fields.bytes($0.rawValue) }, frontEnd: .api,
                                       client: client(request, context), requestId: context.id, deviceToken: try fields.text("device_token"),
                                       isClientConnected: Self.connected(context))
            return try await rolesAnswer(attempt)
        }
    }

    private func rolesAnswer(_ attempt: LoginAttempt) async throws -> Response {
        let offers = try await service.roles(attempt)
        return JSONAnswer.encode(.ok, RolesAnswer(offers: offers.map {
            RolesAnswer.Offer(role: $0.role, label: $0.label, stepUpSecrets: $0.stepUpSecrets.map(\.rawValue))
        }))
    }

    /// Every kind of secret the request carries (whichever a role may need), as wipeable bytes.
    static func givenSecrets(_ field: (SecretKind) throws -> [UInt8]?) rethrows -> [SecretKind: SecretBytes] {
        var secrets: [SecretKind: SecretBytes] = [:]
        for kind in SecretKind.allCases {
            if let bytes = try field(kind) { secrets[kind] = SecretBytes(copying: bytes) }
        }
        return secrets
    }

    static let otpHeader = HTTPField.Name("X-ConsoleGate-OTP")!
    static let deviceHeader = HTTPField.Name("X-ConsoleGate-Device")!

    func client(_ request: Request, _ context: GatewayContext) -> String {
        clientAddress.resolve(peer: context.channel.remoteAddress?.ipAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
    }

    /// Whether the client is still connected: a client that hung up gets nothing minted.
    static func connected(_ context: GatewayContext) -> @Sendable () -> Bool {
        { [channel = context.channel] in channel.isActive }
    }

    // MARK: - Unix socket

    /// Who is asking on the socket: the kernel says (SO_PEERCRED), not the request.
    static func peer(_ context: GatewayContext) async throws -> UInt32 {
        guard let uid = await PeerCredentials.uid(of: context.channel) else {
            throw Refusal(.notPermitted, "cannot tell who is asking (no peer credentials)")
        }
        return uid
    }

    func socketURL(_ request: Request, context: GatewayContext) async throws -> Response {
        let uid = try await Self.peer(context)
        let asked = try await request.decoded(SocketURLRequest.self)
        let grant = try await service.socketLogin(uid: uid, role: asked.role, destination: try Self.destination(asked.destination),
                                                  wantsCredentials: try Self.wantsCredentials(format: asked.format), requestId: context.id,
                                                  isClientConnected: Self.connected(context))
        return JSONAnswer.grant(grant)
    }

    /// `consolegate unlock USER|ADDRESS`: root or `admin_group` only, audited either way.
    func socketUnlock(_ request: Request, context: GatewayContext) async throws -> Response {
        let uid = try await Self.peer(context)
        let target = try await request.decoded(SocketUnlockRequest.self).target
        guard LoginService.isAcceptableUserName(target) else {
            throw Refusal(.invalidRequest, "target (a user name or an address: at most 256 bytes, no control characters) is required")
        }
        switch await service.unlock(target, operatorUID: uid, requestId: context.id) {
        case .unlocked(let key): return JSONAnswer.encode(.ok, UnlockAnswer(unlocked: key.description))
        case .nothingToUnlock(let key): return JSONAnswer.encode(.ok, UnlockAnswer(unlocked: nil, message: "\(key) was not locked"))
        case .notPermitted: throw Refusal(.notPermitted, "only root or members of admin_group may unlock")
        case .stateUnavailable: throw LoginFailure.stateUnavailable
        }
    }

    /// `consolegate revoke --through-daemon`: root or `admin_group` only, with the daemon's broker
    /// credentials; audited either way. One role per request, or none: the roles the trail shows.
    func socketRevoke(_ request: Request, context: GatewayContext) async throws -> Response {
        let uid = try await Self.peer(context)
        let asked = try await request.decoded(SocketRevokeRequest.self)
        guard let revocations else {
            throw Refusal(.invalidRequest, "aws.strategy federation-token: its sessions belong to the broker IAM user, not a role; see consolegate revoke --help")
        }
        let whom: Revocations.Whom
        switch (asked.user, asked.all) {
        case (let user?, false) where LoginService.isAcceptableUserName(user): whom = .user(user)
        case (nil, true) where asked.role != nil: whom = .everyone
        default: throw Refusal(.invalidRequest, "name a user, or a role with all")
        }
        if let role = asked.role, !SessionRevoker.isRoleArn(role) {
            throw Refusal(.invalidRequest, "role takes a role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        }
        let (name, permitted) = service.socketOperator(uid: uid)
        guard permitted else {
            try? await service.auditOperator(uid: uid, name: name, requestId: context.id, outcome: .revokeRefused,
                                             detail: "revoke refused: not root or in admin_group")
            throw Refusal(.notPermitted, "only root or members of admin_group may revoke sessions")
        }
        do {
            let done = try await revocations.revoke(whom, roles: asked.role.map { [$0] } ?? [], by: .init(name: name, client: "uid:\(uid)", frontEnd: "socket"))
            return JSONAnswer.encode(.ok, RevokeAnswer(revoked: done.map {
                RevokeAnswer.Revoked(role: $0.role, detail: $0.detail, statements: $0.outcome.statements, size: $0.outcome.size)
            }))
        } catch let nothing as Revocations.NothingToRevoke {
            throw Refusal(.invalidRequest, "\(nothing)")
        } catch let problem as RevocationPolicy.PolicyProblem {
            throw Refusal(.awsRefused, "\(problem)")
        } catch let error as MintingError {
            if case .awsRefused = error { throw Refusal(.awsRefused, error.description) }
            throw Refusal(.upstreamUnavailable, error.description)
        } catch {
            throw Refusal(.auditUnavailable, "the audit trail is unavailable: \(error)")
        }
    }
}
