import Foundation
import GatewayConfig
import Hummingbird
import HTTPTypes
import NIOCore
import PAMAuth
#if canImport(Glibc)
import Glibc
#endif

/// The login page: GET / shows the form, POST /login signs in (303 to the console), POST /login/role picks a
/// role. CSRF: a random token in a SameSite=Strict, HttpOnly cookie that every form must repeat.
extension GatewayRoutes {
    static let csrfCookie = "consolegate_csrf"
    /// The device token of a browser that has signed in here before (see `DeviceTokens`).
    static let deviceCookie = "consolegate_device"

    func addWebRoutes(to router: Router<GatewayContext>) {
        router.get("/") { request, _ in loginPage(request) }
        router.post("/login") { request, context in await webLogin(request, context: context) }
        router.post("/login/role") { request, context in await webChooseRole(request, context: context) }
        router.get("/static/consolegate.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: WebPages.stylesheet)))
        }
    }

    func loginPage(_ request: Request) -> Response {
        let existing = request.cookies[Self.csrfCookie]?.value
        let csrf = existing.flatMap { RandomToken.isWellFormed($0) ? $0 : nil } ?? RandomToken.make()
        var response = html(.ok, WebPages.login(secrets: secretKinds, csrf: csrf, error: nil, username: "", logoutFirst: logoutFirstDefault))
        if csrf != existing { response.setCookie(csrfCookie(csrf)) }
        return response
    }

    func webLogin(_ request: Request, context: GatewayContext) async -> Response {
        await withCheckedForm(request) { fields, csrf in await webLogin(request, context: context, fields: fields, csrf: csrf) }
    }

    private func webLogin(_ request: Request, context: GatewayContext, fields: RequestFields, csrf: String) async -> Response {
        let user = (try? fields.text("username")) ?? ""
        let logoutFirst = (try? fields.flag("logout_first")) == true
        guard LoginService.isAcceptableUserName(user), fields.has("password") else {
            return html(.badRequest, WebPages.login(secrets: secretKinds, csrf: csrf, error: WebPages.genericFailure, username: user, logoutFirst: logoutFirst))
        }
        let secrets = Self.givenSecrets { try? fields.bytes($0.rawValue) }
        let client = client(request, context)
        let role = (try? fields.text("role")).flatMap { $0.isEmpty ? nil : $0 }
        let attempt = LoginAttempt(user: user, secrets: secrets, role: role, logoutFirst: logoutFirst, frontEnd: .web, client: client, requestId: context.id,
                                   deviceToken: request.cookies[Self.deviceCookie]?.value, isClientConnected: Self.connected(context))
        switch await service.webLogin(attempt, csrf: csrf) {
        case .success(.granted(let grant)):
            return redirect(to: grant, user: user)
        case .success(.chooseRole(let token, let roles)):
            return html(.ok, WebPages.chooseRole(roles: roles, pending: token, csrf: csrf, logoutFirst: logoutFirst))
        case .failure(let failure):
            return webFailure(failure, csrf: csrf, user: user, logoutFirst: logoutFirst)
        }
    }

    func webChooseRole(_ request: Request, context: GatewayContext) async -> Response {
        await withCheckedForm(request) { fields, csrf in await webChooseRole(request, context: context, fields: fields, csrf: csrf) }
    }

    private func webChooseRole(_ request: Request, context: GatewayContext, fields: RequestFields, csrf: String) async -> Response {
        guard let token = try? fields.text("pending"), RandomToken.isWellFormed(token), let role = try? fields.text("role") else {
            return choiceExpired()
        }
        let logoutFirst = (try? fields.flag("logout_first")) == true
        // A step-up role's secrets come with the choice.
        let secrets = Self.givenSecrets { kind in (try? fields.bytes(kind.rawValue)).flatMap { $0?.isEmpty == false ? $0 : nil } }
        let attempt = LoginAttempt(user: "", secrets: secrets, role: role, logoutFirst: logoutFirst, frontEnd: .web, client: client(request, context),
                                   requestId: context.id, isClientConnected: Self.connected(context))
        switch await service.chosenRole(token: token, csrf: csrf, attempt) {
        case .success(let chosen): return redirect(to: chosen.grant, user: chosen.user)
        case .failure(.choiceExpired): return choiceExpired()
        case .failure(.stepUpRequired(let role, let secrets)):
            // The choice is still pending: a form for what the role needs, with the same token.
            return html(.ok, WebPages.stepUp(role: role, label: roleLabels[role] ?? role, secrets: secrets, pending: token, csrf: csrf, logoutFirst: logoutFirst))
        case .failure(let failure): return webFailure(failure, csrf: csrf, user: "", logoutFirst: logoutFirst)
        }
    }

    func choiceExpired() -> Response {
        html(.forbidden, WebPages.message(title: "Sign in again — AWS console sign-in", text: "This choice has expired. Sign in again."))
    }

    // MARK: - Pieces

    func webFailure(_ failure: LoginFailure, csrf: String, user: String, logoutFirst: Bool) -> Response {
        let (status, message): (HTTPResponse.Status, String) = switch failure {
        case .authenticationFailed: (.unauthorized, WebPages.genericFailure)
        case .lockedOut: (.tooManyRequests, "Too many sign-in attempts. Try again later.")
        case .noRole, .roleNotAllowed: (.forbidden, "You may not open the AWS console with this role. Ask your administrator.")
        case .awsRefused: (.badGateway, "AWS refused the sign-in. Try again, or ask your administrator.")
        case .upstreamUnavailable: (.serviceUnavailable, "AWS cannot be reached right now. Try again in a few minutes.")
        case .auditUnavailable: (.serviceUnavailable, "Sign-in is unavailable (the audit log cannot be written). Tell your administrator.")
        case .invalidRequest(let text): (.badRequest, text)
        case .clientGone: (.serviceUnavailable, "The connection was lost. Sign in again.")
        case .busy: (.serviceUnavailable, "Too many people are signing in right now. Try again in a few seconds.")
        case .pamUnavailable: (.serviceUnavailable, "Sign-in is restarting. Try again in a moment.")
        case .stateUnavailable: (.serviceUnavailable, "Sign-in is unavailable right now. Try again in a minute, or tell your administrator.")
        case .choiceExpired: (.forbidden, "This choice has expired. Sign in again.")
        case .stepUpRequired(_, let secrets): (.forbidden, "This role needs \(WebPages.describe(secrets)). Sign in again and give it with your choice.")
        }
        var response = html(status, WebPages.login(secrets: secretKinds, csrf: csrf, error: message, username: user, logoutFirst: logoutFirst))
        if failure == .busy { response.headers[.retryAfter] = JSONAnswer.retryAfterBusy }
        return response
    }

    /// 303 See Other to the console, so a reload of the result does not post the form again; the browser
    /// keeps a fresh device token for this user.
    func redirect(to grant: Grant, user: String) -> Response {
        guard case .url(let minted) = grant else { return JSONAnswer.grant(grant) }
        var response = Response(status: .seeOther, headers: [.location: minted.url.absoluteString])
        response.setCookie(Cookie(name: Self.deviceCookie, value: service.deviceTokens.issue(user: user), maxAge: service.deviceTokens.lifetime.wholeSeconds,
                                  path: "/", secure: tlsEnabled, httpOnly: true, sameSite: .strict))
        return response
    }

    func html(_ status: HTTPResponse.Status, _ page: String) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    func csrfCookie(_ value: String) -> Cookie {
        Cookie(name: Self.csrfCookie, value: value, path: "/", secure: tlsEnabled, httpOnly: true, sameSite: .strict)
    }

    /// Runs `body` on a form whose CSRF token matches the browser's cookie, and wipes the form after; or
    /// answers with the refusal.
    func withCheckedForm(_ request: Request, _ body: (RequestFields, String) async -> Response) async -> Response {
        switch await Self.readForm(request) {
        case .refused(let refusal):
            return refusal
        case .object(var fields):
            defer { fields.wipe() }
            guard let csrf = checkedCSRF(request, fields) else { return csrfRefusal() }
            return await body(fields, csrf)
        }
    }

    /// The form's token when it matches the cookie's.
    func checkedCSRF(_ request: Request, _ fields: RequestFields) -> String? {
        guard let cookie = request.cookies[Self.csrfCookie]?.value, RandomToken.isWellFormed(cookie),
              let field = try? fields.text("csrf"), RandomToken.equal(cookie, field)
        else { return nil }
        return cookie
    }

    func csrfRefusal() -> Response {
        html(.forbidden, WebPages.message(title: "Reload the page — AWS console sign-in", text: "This form has expired or did not come from this page. Reload it and sign in again."))
    }

    static func readForm(_ request: Request) async -> JSONBody {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/x-www-form-urlencoded" else {
            return .refused(JSONAnswer.error(.unsupportedMediaType, "send the form (application/x-www-form-urlencoded)"))
        }
        var body = request
        guard var buffer = try? await body.collectBody(upTo: GatewayContext.bodyLimit) else {
            return .refused(JSONAnswer.error(.contentTooLarge, "request body over \(GatewayContext.bodyLimit) bytes"))
        }
        defer { buffer.withUnsafeMutableReadableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } } }
        do {
            return .object(try buffer.withUnsafeReadableBytes { try FormBody.parse($0.bindMemory(to: UInt8.self)) })
        } catch {
            return .refused(JSONAnswer.error(.badRequest, "a form field appears twice"))
        }
    }
}
