import Foundation
import GatewayConfig
import Hummingbird
import HTTPTypes
import NIOCore
import PAMAuth

/// The login page: GET / shows the form, POST /login signs in (303 to the console), POST /login/role picks a
/// role. CSRF: a random token in a SameSite=Strict, HttpOnly cookie that every form must repeat.
extension GatewayRoutes {
    static let csrfCookie = "consolegate_csrf"
    /// The device token of a browser that has signed in here before (see `DeviceTokens`).
    static let deviceCookie = "consolegate_device"

    func addWebRoutes(to router: Router<GatewayContext>) {
        router.get("/") { request, _ in loginPage(request) }
        router.post("/login") { request, context in try await webLogin(request, context: context) }
        router.post("/login/role") { request, context in try await webChooseRole(request, context: context) }
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

    func webLogin(_ request: Request, context: GatewayContext) async throws -> Response {
        try await withCheckedForm(request) { fields, csrf in await webLogin(request, context: context, fields: fields, csrf: csrf) }
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
        do {
            switch try await service.webLogin(attempt, csrf: csrf) {
            case .granted(let grant): return redirect(to: grant, user: user)
            case .chooseRole(let token, let roles): return html(.ok, WebPages.chooseRole(roles: roles, pending: token, csrf: csrf, logoutFirst: logoutFirst))
            }
        } catch {
            return webFailure(error, csrf: csrf, user: user, logoutFirst: logoutFirst)
        }
    }

    func webChooseRole(_ request: Request, context: GatewayContext) async throws -> Response {
        try await withCheckedForm(request) { fields, csrf in await webChooseRole(request, context: context, fields: fields, csrf: csrf) }
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
        do {
            let chosen = try await service.chosenRole(token: token, csrf: csrf, attempt)
            return redirect(to: chosen.grant, user: chosen.user)
        } catch .choiceExpired {
            return choiceExpired()
        } catch .stepUpRequired(let role, let secrets) {
            // The choice is still pending: a form for what the role needs, with the same token.
            return html(.ok, WebPages.stepUp(role: role, label: roleLabels[role] ?? role, secrets: secrets, pending: token, csrf: csrf, logoutFirst: logoutFirst))
        } catch {
            return webFailure(error, csrf: csrf, user: "", logoutFirst: logoutFirst)
        }
    }

    func choiceExpired() -> Response {
        html(.forbidden, WebPages.message(title: "Sign in again — AWS console sign-in", text: "This choice has expired. Sign in again."))
    }

    // MARK: - Pieces

    func webFailure(_ failure: LoginFailure, csrf: String, user: String, logoutFirst: Bool) -> Response {
        var response = html(failure.status, WebPages.login(secrets: secretKinds, csrf: csrf, error: failure.row.page, username: user, logoutFirst: logoutFirst))
        response.setRetryAfter(for: failure.row.failure)
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
    func withCheckedForm(_ request: Request, _ body: (RequestFields, String) async -> Response) async throws -> Response {
        try await request.withFields(.form) { fields in
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
}
