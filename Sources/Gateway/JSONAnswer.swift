import Foundation
import GatewayStore
import Hummingbird
import HTTPTypes
import Minting

/// JSON responses: `{"error": "..."}` for failures, objects for answers.
enum JSONAnswer {
    /// Seconds a client should wait after a 503 for a full PAM queue.
    static let retryAfterBusy = "5"

    static func object(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        object(status, ["error": message])
    }

    /// One answer per failure kind; authentication failures never say more than "authentication failed".
    static func failure(_ failure: LoginFailure) -> Response {
        switch failure {
        case .authenticationFailed:
            return error(.unauthorized, "authentication failed")
        case .lockedOut:
            return error(.tooManyRequests, "too many sign-in attempts; try again later")
        case .noRole:
            return error(.forbidden, "you may not take any AWS role; ask your administrator")
        case .roleNotAllowed(let requested, let allowed):
            return object(.forbidden, ["error": "you may not take the role \(requested)", "allowed_roles": allowed])
        case .awsRefused(let message):
            return error(.badGateway, "AWS refused the request: \(message)")
        case .upstreamUnavailable:
            return error(.serviceUnavailable, "AWS is unavailable; try again later")
        case .auditUnavailable:
            return error(.serviceUnavailable, "the audit log cannot be written, so no URL was issued; tell your administrator")
        case .invalidRequest(let message):
            return error(.badRequest, message)
        case .clientGone:
            return error(.serviceUnavailable, "the client went away")
        case .pamUnavailable:
            return error(.serviceUnavailable, "sign-in is restarting; try again in a moment")
        case .stateUnavailable:
            return error(.serviceUnavailable, "sign-in is unavailable (the gateway's shared state does not answer); try again in a minute")
        case .choiceExpired:
            return error(.forbidden, "this role choice has expired; sign in again")
        case .stepUpRequired(let role, let secrets):
            return object(.forbidden, ["error": "the role \(role) needs \(secrets.map(\.rawValue).joined(separator: " and ")): sign in with consolegate login or the web page",
                                       "secrets": secrets.map(\.rawValue)])
        case .busy:
            var response = error(.serviceUnavailable, "too many sign-ins at once; try again in a few seconds")
            response.headers[.retryAfter] = retryAfterBusy
            return response
        }
    }

    /// `/healthz`: 200 while logins can be decided, 503 with the reason when not, so that a load balancer
    /// drains this replica.
    static func health(_ health: StateHealth) -> Response {
        switch health {
        case .ok: object(.ok, ["status": "ok"])
        case .degraded(let reason): object(.serviceUnavailable, ["status": "degraded", "reason": reason])
        }
    }

    /// The grant, and for password logins a device token to send back next time (`device_token`).
    static func grant(_ grant: Grant, deviceToken: String? = nil) -> Response {
        var answer = switch grant {
        case .url(let minted): minted.jsonObject
        case .credentials(let session): session.credentialProcessObject
        }
        if let deviceToken { answer["device_token"] = deviceToken }
        return object(.ok, answer)
    }
}
