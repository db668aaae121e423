import GatewayAPI
import GatewayConfig
import GatewayStore
import Hummingbird
import HTTPTypes

extension LoginFailure: HTTPResponseError {
    /// The one table of a login's failures: its name in the API (which fixes the status, `Retry-After` and
    /// the CLI's exit code, see `Failure.row`), what the JSON answer says, what the login page says, and
    /// the audit outcome. Authentication failures never say more than "authentication failed"; the audit
    /// trail may (a step can record a finer outcome: `throttled`, `account_refused`, `code_reused`).
    var row: (failure: Failure, message: String, page: String, audit: AuditRecord.Outcome) {
        switch self {
        case .authenticationFailed:
            (.authenticationFailed, "authentication failed", WebPages.genericFailure, .authenticationFailed)
        case .accountRefused:
            (.accountRefused, "your account may not sign in now (expired or locked); ask your administrator", WebPages.genericFailure, .accountRefused)
        case .lockedOut:
            (.lockedOut, "too many sign-in attempts; try again later", "Too many sign-in attempts. Try again later.", .lockedOut)
        case .noRole:
            (.noRole, "you may not take any AWS role; ask your administrator",
             "You may not open the AWS console with this role. Ask your administrator.", .noRole)
        case .roleNotAllowed(let requested, _):
            (.roleNotAllowed, "you may not take the role \(requested)", "You may not open the AWS console with this role. Ask your administrator.", .roleNotAllowed)
        case .awsRefused(let message):
            (.awsRefused, "AWS refused the request: \(message)", "AWS refused the sign-in. Try again, or ask your administrator.", .awsRefused)
        case .upstreamUnavailable:
            (.upstreamUnavailable, "AWS is unavailable; try again later", "AWS cannot be reached right now. Try again in a few minutes.", .upstreamUnavailable)
        case .auditUnavailable:
            (.auditUnavailable, "the audit log cannot be written, so no URL was issued; tell your administrator",
             "Sign-in is unavailable (the audit log cannot be written). Tell your administrator.", .upstreamUnavailable)
        case .invalidRequest(let message):
            (.invalidRequest, message, message, .invalidRequest)
        case .clientGone:
            (.clientGone, "the client went away", "The connection was lost. Sign in again.", .clientGone)
        case .busy:
            (.busy, "too many sign-ins at once; try again in a few seconds", "Too many people are signing in right now. Try again in a few seconds.", .busy)
        case .pamUnavailable:
            (.pamUnavailable, "sign-in is restarting; try again in a moment", "Sign-in is restarting. Try again in a moment.", .pamUnavailable)
        case .stateUnavailable:
            (.stateUnavailable, "sign-in is unavailable (the gateway's shared state does not answer); try again in a minute",
             "Sign-in is unavailable right now. Try again in a minute, or tell your administrator.", .stateUnavailable)
        case .choiceExpired:
            (.choiceExpired, "this role choice has expired; sign in again", "This choice has expired. Sign in again.", .invalidRequest)
        case .stepUpRequired(let role, let secrets):
            (.stepUpRequired, "the role \(role) needs \(secrets.map(\.rawValue).joined(separator: " and ")): sign in with consolegate login or the web page",
             "This role needs \(WebPages.describe(secrets)). Sign in again and give it with your choice.", .stepUpRequired)
        }
    }

    var answer: ErrorAnswer {
        switch self {
        case .roleNotAllowed(_, let allowed): ErrorAnswer(row.failure, row.message, allowedRoles: allowed)
        case .stepUpRequired(_, let secrets): ErrorAnswer(row.failure, row.message, secrets: secrets.map(\.rawValue))
        default: ErrorAnswer(row.failure, row.message)
        }
    }

    public var status: HTTPResponse.Status { row.failure.httpStatus }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Refusal(answer).response
    }
}
