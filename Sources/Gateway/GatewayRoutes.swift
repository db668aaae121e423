import Foundation
import GatewayConfig
import Hummingbird
import HTTPTypes
import Minting
import NIOCore
import PAMAuth
import Prometheus
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP front ends: the JSON API on TCP, and the local socket for `consolegate url`.
public struct GatewayRoutes: Sendable {
    let service: LoginService
    let clientAddress: ClientAddress
    let secretKinds: [SecretKind]
    let logoutFirstDefault: Bool
    let tlsEnabled: Bool
    let pendingRoleChoices = PendingRoleChoices()
    /// The sign-in endpoint's origin and the console's: where the login form's redirects lead.
    let formActions: [String]
    /// Served at /metrics when set.
    let metrics: PrometheusCollectorRegistry?

    public init(service: LoginService, configuration: GatewayConfiguration, metrics: PrometheusCollectorRegistry? = nil) {
        self.service = service
        self.clientAddress = ClientAddress(trustedProxies: Set(configuration.trustedProxies))
        self.secretKinds = configuration.pam.secrets
        self.logoutFirstDefault = configuration.aws.logoutFirst
        self.tlsEnabled = configuration.listen.tlsCertificate != nil
        self.metrics = metrics
        let aws = configuration.aws
        let signin = aws.signinEndpoint ?? aws.partition.signinEndpoint(region: aws.region)
        let signinOrigin = "\(signin.scheme ?? "https")://\(signin.host ?? "")\(signin.port.map { ":\($0)" } ?? "")"
        self.formActions = ["'self'", signinOrigin, "https://\(aws.partition.consoleHost)", "https://*.\(aws.partition.consoleHost)"]
    }

    public func apiRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(SecurityHeadersMiddleware(strictTransportSecurity: tlsEnabled, formActions: formActions))
        router.middlewares.add(CrossSiteRefusalMiddleware())
        router.get("/healthz") { _, _ in JSONAnswer.object(.ok, ["status": "ok"]) }
        router.get("/api/v1/info") { _, _ in
            // What a client must ask a person for; nothing secret.
            JSONAnswer.object(.ok, ["secrets": secretKinds.map(\.rawValue), "logout_first": logoutFirstDefault])
        }
        router.post("/api/v1/login") { request, context in await login(request, context: context) }
        router.get("/api/v1/roles") { request, context in await roles(request, context: context) }
        router.get("/metrics") { _, _ in metricsText() }
        addWebRoutes(to: router)
        return router
    }

    func metricsText() -> Response {
        guard let metrics else { return JSONAnswer.error(.notFound, "metrics are not enabled") }
        var text: [UInt8] = []
        metrics.emit(into: &text)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }

    public func socketRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.middlewares.add(SecurityHeadersMiddleware())
        router.get("/healthz") { _, _ in JSONAnswer.object(.ok, ["status": "ok"]) }
        router.post("/v1/url") { request, context in await socketURL(request, context: context) }
        return router
    }

    // MARK: - JSON API

    func login(_ request: Request, context: GatewayContext) async -> Response {
        var fields: [String: [UInt8]]
        switch await Self.readJSONObject(request, context: context) {
        case .refused(let refusal): return refusal
        case .object(let object): fields = object
        }
        defer { FlatJSON.wipe(&fields) }
        guard let user = fields["username"].map({ String(decoding: $0, as: UTF8.self) }), Self.isPlausibleUserName(user) else {
            return JSONAnswer.error(.badRequest, "username is required")
        }
        guard fields["password"] != nil else { return JSONAnswer.error(.badRequest, "password is required") }
        let secrets = secretKinds.compactMap { kind in fields[kind.rawValue].map { SecretBytes(copying: $0) } }
        let destination = fields["destination"].map { String(decoding: $0, as: UTF8.self) }
        if let destination, URL(string: destination)?.host == nil {
            return JSONAnswer.error(.badRequest, "destination must be an absolute console URL")
        }
        let format = fields["format"].map { String(decoding: $0, as: UTF8.self) } ?? "url"
        let logoutFirst = fields["logout_first"].map { String(decoding: $0, as: UTF8.self) == "true" }
        guard format == "url" || format == "credential-process" else {
            return JSONAnswer.error(.badRequest, "format must be url or credential-process")
        }
        let attempt = LoginAttempt(
            user: user, secrets: secrets, role: fields["role"].map { String(decoding: $0, as: UTF8.self) },
            destination: destination.flatMap(URL.init(string:)), region: fields["region"].map { String(decoding: $0, as: UTF8.self) },
            wantsCredentials: format == "credential-process", logoutFirst: logoutFirst, frontEnd: .api, client: client(request, context), requestId: context.id
        )
        switch await service.login(attempt) {
        case .success(let grant): return JSONAnswer.grant(grant)
        case .failure(let failure): return JSONAnswer.failure(failure)
        }
    }

    /// `Authorization: Basic` with the password; a one-time code, where the stack asks for one, in `X-ConsoleGate-OTP`.
    func roles(_ request: Request, context: GatewayContext) async -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
              var decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)).map(Array.init),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
        else {
            return JSONAnswer.failure(.authenticationFailed)
        }
        defer { decoded.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) } }
        let user = String(decoding: decoded[..<colon], as: UTF8.self)
        var secrets = [SecretBytes(copying: decoded[decoded.index(after: colon)...])]
        if secretKinds.contains(.otp), let otp = request.headers[HTTPField.Name("X-ConsoleGate-OTP")!] {
            secrets.append(SecretBytes(copying: Array(otp.utf8)))
        }
        let attempt = LoginAttempt(user: user, secrets: secrets, frontEnd: .api, client: client(request, context), requestId: context.id)
        switch await service.roles(attempt) {
        case .success(let roles): return JSONAnswer.object(.ok, ["roles": roles])
        case .failure(let failure): return JSONAnswer.failure(failure)
        }
    }

    func client(_ request: Request, _ context: GatewayContext) -> String {
        clientAddress.resolve(peer: context.channel.remoteAddress?.ipAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
    }

    // MARK: - Unix socket

    func socketURL(_ request: Request, context: GatewayContext) async -> Response {
        guard let uid = await PeerCredentials.uid(of: context.channel) else {
            return JSONAnswer.error(.forbidden, "cannot tell who is asking (no peer credentials)")
        }
        var fields: [String: [UInt8]]
        switch await Self.readJSONObject(request, context: context) {
        case .refused(let refusal): return refusal
        case .object(let object): fields = object
        }
        defer { FlatJSON.wipe(&fields) }
        let text = { (key: String) in fields[key].map { String(decoding: $0, as: UTF8.self) } }
        let destination = text("destination")
        if let destination, URL(string: destination)?.host == nil {
            return JSONAnswer.error(.badRequest, "destination must be an absolute console URL")
        }
        let result = await service.socketLogin(uid: uid, role: text("role"), destination: destination.flatMap(URL.init(string:)),
                                               wantsCredentials: text("format") == "credential-process", requestId: context.id)
        switch result {
        case .success(let grant): return JSONAnswer.grant(grant)
        case .failure(let failure): return JSONAnswer.failure(failure)
        }
    }

    // MARK: - Bodies

    enum JSONBody {
        case object([String: [UInt8]])
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
        } catch {
            return .refused(JSONAnswer.error(.badRequest, "the body must be a JSON object of strings"))
        }
    }

    static func isPlausibleUserName(_ user: String) -> Bool {
        !user.isEmpty && user.utf8.count <= 256 && !user.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
