import Hummingbird
import HTTPTypes

/// Headers on every response, errors included: nothing is cached, nothing leaks through Referer, no
/// sniffing, and no page of ours in anyone's frame.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Served over TLS: browsers should never use plain HTTP for this host again (HSTS).
    var strictTransportSecurity = false
    /// Where the login form may lead. Browsers apply form-action to every redirect after the POST too, so
    /// the sign-in endpoint and the console must be listed beside 'self'.
    var formActions: [String] = ["'self'"]

    var headers: [(HTTPField.Name, String)] { Self.headers(formActions: formActions) }

    /// Also for the answers no route makes (`ConnectionGuard`'s 503).
    static func headers(formActions: [String] = ["'self'"]) -> [(HTTPField.Name, String)] {
        [
            (.cacheControl, "no-store"),
            (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
            (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
            (.contentSecurityPolicy, "default-src 'none'; style-src 'self'; img-src 'self'; form-action \(formActions.joined(separator: " ")); base-uri 'none'; frame-ancestors 'none'"),
        ]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            response = Refusal(.internalError, "internal error").response
        }
        for (name, value) in headers {
            response.headers[name] = value
        }
        if strictTransportSecurity {
            response.headers[.strictTransportSecurity] = "max-age=31536000"
        }
        return response
    }
}

/// Refuses requests a browser makes on another site's behalf: `Sec-Fetch-Site: cross-site`, or an Origin
/// that is not this gateway's.
struct CrossSiteRefusalMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased() == "cross-site" {
            return Refusal(.crossSite, "cross-site request refused").response
        }
        // With Referrer-Policy: no-referrer, Chromium sends `Origin: null` on our own form's POST; the browser's
        // Sec-Fetch-Site (which pages cannot forge) says whether it really came from this site.
        let sameOrigin = request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased() == "same-origin"
        if let origin = request.headers[.origin], !(origin == "null" && sameOrigin) {
            let host = request.head.authority
            guard let host, Self.originHost(origin) == host.lowercased() else {
                return Refusal(.crossSite, "cross-site request refused").response
            }
        }
        return try await next(request, context)
    }

    /// `https://gate.example.org:8443` → `gate.example.org:8443`; `null` and nonsense → nil.
    static func originHost(_ origin: String) -> String? {
        guard let schemeEnd = origin.range(of: "://") else { return nil }
        let rest = origin[schemeEnd.upperBound...]
        guard !rest.isEmpty, !rest.contains("/") else { return nil }
        return rest.lowercased()
    }
}
