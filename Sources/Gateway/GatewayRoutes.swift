import Foundation
import GatewayConfig
import Hummingbird
import HTTPTypes
import Minting
import NIOCore
import PAMAuth
import Prometheus
import Revocation
#if canImport(Glibc)
import Glibc
import Secrets
#endif

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
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(SecurityHeadersMiddleware(strictTransportSecurity: tlsEnabled, formActions: formActions))
        router.middlewares.add(CrossSiteRefusalMiddleware())
        router.get("/healthz") { _, _ in JSONAnswer.health(await service.health()) }
        router.get("/api/v1/info") { _, _ in
            // What a client must ask a person for; nothing secret.
            JSONAnswer.object(.ok, ["secrets": secretKinds.map(\.rawValue), "step_up_secrets": stepUpSecretKinds.map(\.rawValue),
                                    "logout_first": logoutFirstDefault])
        }
        router.post("/api/v1/login") { request, context in await login(request, context: context) }
        router.get("/api/v1/roles") { request, context in await roles(request, context: context) }
        router.post("/api/v1/roles") { request, context in await postedRoles(request, context: context) }
        addWebRoutes(to: router)
        return router
    }

    /// Prometheus on its own listener (`listen.metrics`), never on the login listener: the counts per outcome
    /// are for operators, not for whoever can reach the login page.
    public static func metricsRouter(_ metrics: PrometheusCollectorRegistry) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(SecurityHeadersMiddleware())
        router.get("/metrics") { _, _ in
            var text: [UInt8] = []
            metrics.emit(into: &text)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        return router
    }

    public func socketRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(SecurityHeadersMiddleware())
        router.get("/healthz") { _, _ in JSONAnswer.health(await service.health()) }
        router.post("/v1/url") { request, context in await socketURL(request, context: context) }
        router.post("/v1/unlock") { request, context in await socketUnlock(request, context: context) }
        router.post("/v1/revoke") { request, context in await socketRevoke(request, context: context) }
        return router
    }

    // MARK: - JSON API

    /// A JSON body with an acceptable `username`: `body` gets it and the fields, which are wiped after; a
    /// field of the wrong type is a 400.
    func withJSONUser(_ request: Request, context: GatewayContext, _ body: (String, RequestFields) async throws -> Response) async -> Response {
        var fields: RequestFields
        switch await Self.readJSONObject(request, context: context) {
        case .refused(let refusal): return refusal
        case .object(let object): fields = object
        }
        defer { fields.wipe() }
        do {
            guard let user = try fields.text("username"), LoginService.isAcceptableUserName(user) else {
                return JSONAnswer.error(.badRequest, "username is required")
            }
            return try await body(user, fields)
        } catch {
            return JSONAnswer.error(.badRequest, "\(error)")
        }
    }

    func login(_ request: Request, context: GatewayContext) async -> Response {
        await withJSONUser(request, context: context) { user, fields in
            guard try fields.bytes("password") != nil else { return JSONAnswer.error(.badRequest, "password is required") }
            let secrets = try Self.givenSecrets { try fields.bytes($0.rawValue) }
            let destination = try fields.text("destination")
            if let destination, URL(string: destination)?.host == nil {
                return JSONAnswer.error(.badRequest, "destination must be an absolute console URL")
            }
            let format = try fields.text("format") ?? "url"
            guard format == "url" || format == "credential-process" else {
                return JSONAnswer.error(.badRequest, "format must be url or credential-process")
            }
            let attempt = LoginAttempt(
                user: user, secrets: secrets, role: try fields.text("role"), destination: destination.flatMap(URL.init(string:)),
                region: try fields.text("region"), wantsCredentials: format == "credential-process", logoutFirst: try fields.flag("logout_first"),
                frontEnd: .api, client: client(request, context), requestId: context.id, deviceToken: try fields.text("device_token"),
                isClientConnected: Self.connected(context)
            )
            switch await service.login(attempt) {
            case .success(let grant): return JSONAnswer.grant(grant, deviceToken: service.deviceTokens.issue(user: user))
            case .failure(let failure): return JSONAnswer.failure(failure)
            }
        }
    }

    /// `Authorization: Basic` with the password; a one-time code, where the stack asks for one, in
    /// `X-ConsoleGate-OTP`; a device token in `X-ConsoleGate-Device`.
    func roles(_ request: Request, context: GatewayContext) async -> Response {
        guard let header = request.headers[.authorization], let credentials = BasicCredentials(header: header) else {
            return JSONAnswer.failure(.authenticationFailed)
        }
        var secrets: [SecretKind: SecretBytes] = [.password: SecretBytes(copying: credentials.password)]
        wipe(storageOf: credentials.password)
        if secretKinds.contains(.otp), let otp = request.headers[Self.otpHeader] {
            secrets[.otp] = SecretBytes(copying: Array(otp.utf8))
        }
        let attempt = LoginAttempt(user: credentials.user, secrets: secrets, frontEnd: .api, client: client(request, context), requestId: context.id,
                                   deviceToken: request.headers[Self.deviceHeader], isClientConnected: Self.connected(context))
        return await rolesAnswer(attempt)
    }

    /// The same as a JSON body (username, the base secrets, device_token): the secrets stay bytes.
    func postedRoles(_ request: Request, context: GatewayContext) async -> Response {
        await withJSONUser(request, context: context) { user, fields in
            let attempt = LoginAttempt(user: user, secrets: try Self.givenSecrets { try fields.bytes($0.rawValue) }, frontEnd: .api,
                                       client: client(request, context), requestId: context.id, deviceToken: try fields.text("device_token"),
                                       isClientConnected: Self.connected(context))
            return await rolesAnswer(attempt)
        }
    }

    private func rolesAnswer(_ attempt: LoginAttempt) async -> Response {
        switch await service.roles(attempt) {
        case .success(let offers):
            // `roles` as before; `offers` adds each role's label and what taking it needs beyond this sign-in.
            return JSONAnswer.object(.ok, ["roles": offers.map(\.role), "offers": offers.map {
                ["role": $0.role, "label": $0.label, "step_up_secrets": $0.stepUpSecrets.map(\.rawValue)] as [String: Any]
            }])
        case .failure(let failure): return JSONAnswer.failure(failure)
        }
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

    /// Who is asking on the socket (SO_PEERCRED) and what they sent, handed to `body`; the fields are wiped after.
    static func withSocketRequest(_ request: Request, context: GatewayContext,
                                  _ body: (UInt32, RequestFields) async -> Response) async -> Response {
        guard let uid = await PeerCredentials.uid(of: context.channel) else {
            return JSONAnswer.error(.forbidden, "cannot tell who is asking (no peer credentials)")
        }
        var fields: RequestFields
        switch await readJSONObject(request, context: context) {
        case .refused(let refusal): return refusal
        case .object(let object): fields = object
        }
        defer { fields.wipe() }
        return await body(uid, fields)
    }

    func socketURL(_ request: Request, context: GatewayContext) async -> Response {
        await Self.withSocketRequest(request, context: context) { uid, fields in
            do {
                let destination = try fields.text("destination")
                if let destination, URL(string: destination)?.host == nil {
                    return JSONAnswer.error(.badRequest, "destination must be an absolute console URL")
                }
                let result = await service.socketLogin(uid: uid, role: try fields.text("role"), destination: destination.flatMap(URL.init(string:)),
                                                       wantsCredentials: try fields.text("format") == "credential-process", requestId: context.id,
                                                       isClientConnected: Self.connected(context))
                switch result {
                case .success(let grant): return JSONAnswer.grant(grant)
                case .failure(let failure): return JSONAnswer.failure(failure)
                }
            } catch {
                return JSONAnswer.error(.badRequest, "\(error)")
            }
        }
    }

    /// `consolegate unlock USER|ADDRESS`: root or `admin_group` only, audited either way.
    func socketUnlock(_ request: Request, context: GatewayContext) async -> Response {
        await Self.withSocketRequest(request, context: context) { uid, fields in
            guard let target = try? fields.text("target"), !target.isEmpty else {
                return JSONAnswer.error(.badRequest, "target (a user name or an address) is required")
            }
            switch await service.unlock(target, operatorUID: uid, requestId: context.id) {
            case .unlocked(let key): return JSONAnswer.object(.ok, ["unlocked": key.description])
            case .nothingToUnlock(let key): return JSONAnswer.object(.ok, ["unlocked": NSNull(), "message": "\(key) was not locked"])
            case .notPermitted: return JSONAnswer.error(.forbidden, "only root or members of admin_group may unlock")
            case .stateUnavailable: return JSONAnswer.failure(.stateUnavailable)
            }
        }
    }

    /// `consolegate revoke --through-daemon`: root or `admin_group` only, with the daemon's broker
    /// credentials; audited either way. One role per request, or none: the roles the trail shows.
    func socketRevoke(_ request: Request, context: GatewayContext) async -> Response {
        await Self.withSocketRequest(request, context: context) { uid, fields in
            guard let revocations else {
                return JSONAnswer.error(.badRequest, "aws.strategy federation-token: its sessions belong to the broker IAM user, not a role; see consolegate revoke --help")
            }
            let user: String?, role: String?, all: Bool
            do {
                (user, role, all) = (try fields.text("user"), try fields.text("role"), try fields.flag("all") ?? false)
            } catch {
                return JSONAnswer.error(.badRequest, "user and role are strings, all a boolean")
            }
            let whom: Revocations.Whom
            switch (user, all) {
            case (let user?, false) where LoginService.isAcceptableUserName(user): whom = .user(user)
            case (nil, true) where role != nil: whom = .everyone
            default: return JSONAnswer.error(.badRequest, "name a user, or a role with all")
            }
            if let role, !SessionRevoker.isRoleArn(role) {
                return JSONAnswer.error(.badRequest, "role takes a role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
            }
            let (name, permitted) = service.socketOperator(uid: uid)
            guard permitted else {
                try? await service.auditOperator(uid: uid, name: name, requestId: context.id, outcome: .revokeRefused,
                                                 detail: "revoke refused: not root or in admin_group")
                return JSONAnswer.error(.forbidden, "only root or members of admin_group may revoke sessions")
            }
            do {
                let done = try await revocations.revoke(whom, roles: role.map { [$0] } ?? [], by: .init(name: name, client: "uid:\(uid)", frontEnd: "socket"))
                return JSONAnswer.object(.ok, ["revoked": done.map { ["role": $0.role, "detail": $0.detail, "statements": $0.outcome.statements, "size": $0.outcome.size] }])
            } catch let nothing as Revocations.NothingToRevoke {
                return JSONAnswer.error(.badRequest, "\(nothing)")
            } catch let problem as RevocationPolicy.PolicyProblem {
                return JSONAnswer.error(.badGateway, "\(problem)")
            } catch let error as MintingError {
                if case .awsRefused = error { return JSONAnswer.error(.badGateway, error.description) }
                return JSONAnswer.error(.serviceUnavailable, error.description)
            } catch {
                return JSONAnswer.error(.serviceUnavailable, "the audit trail is unavailable: \(error)")
            }
        }
    }

    // MARK: - Bodies

    enum JSONBody {
        case object(RequestFields)
        /// The answer refusing the body: 415, 413 or 400.
        case refused(Response)
    }

    static func readJSONObject(_ request: Request, context: GatewayContext) async -> JSONBody {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else {
            return .refused(JSONAnswer.error(.unsupportedMediaType, "send JSON (Content-Type: application/json)"))
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > GatewayContext.bodyLimit {
            return .refused(JSONAnswer.error(.contentTooLarge, "request body over \(GatewayContext.bodyLimit) bytes"))
        }
        var body = request
        var buffer: ByteBuffer
        do {
            buffer = try await body.collectBody(upTo: GatewayContext.bodyLimit)
        } catch {
            return .refused(JSONAnswer.error(.contentTooLarge, "request body over \(GatewayContext.bodyLimit) bytes"))
        }
        defer { buffer.withUnsafeMutableReadableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } } }
        do {
            return .object(try buffer.withUnsafeReadableBytes { try FlatJSON.parseObject($0.bindMemory(to: UInt8.self)) })
        } catch let malformed as FlatJSON.Malformed {
            return .refused(JSONAnswer.error(.badRequest, "the body must be a JSON object of strings: \(malformed.reason)"))
        } catch {
            return .refused(JSONAnswer.error(.badRequest, "the body must be a JSON object of strings"))
        }
    }
}
