/// The exit codes every ConsoleGate command shares.
public enum ExitStatus: Int32, Sendable {
    case success = 0
    case authenticationFailed = 1
    case usage = 2
    /// Refused: not allowed, locked, or AWS said no.
    case awsRefused = 3
    /// The daemon, the server or AWS is unavailable.
    case upstreamUnavailable = 4
}

/// Every way the gateway refuses a request, as the API names it (`failure` in an `ErrorAnswer`). The one
/// table of what each means on the wire and on the command line; the gateway's `LoginFailure` adds the
/// words and the audit outcome.
public enum Failure: String, Codable, Sendable, CaseIterable {
    /// Any PAM failure, an unknown name, a name no access rule names: all look alike.
    case authenticationFailed = "authentication_failed"
    /// On the socket only, where the kernel named the caller and no password was asked: PAM's account
    /// check said no (expired, locked).
    case accountRefused = "account_refused"
    case lockedOut = "locked_out"
    case noRole = "no_role"
    case roleNotAllowed = "role_not_allowed"
    case stepUpRequired = "step_up_required"
    case choiceExpired = "choice_expired"
    /// An operator command (unlock, revoke) from someone who is neither root nor in `admin_group`, or a
    /// socket caller the kernel could not name.
    case notPermitted = "not_permitted"
    case crossSite = "cross_site"
    case invalidRequest = "invalid_request"
    case unsupportedMediaType = "unsupported_media_type"
    case contentTooLarge = "content_too_large"
    case awsRefused = "aws_refused"
    case upstreamUnavailable = "upstream_unavailable"
    case auditUnavailable = "audit_unavailable"
    case clientGone = "client_gone"
    case busy
    case pamUnavailable = "pam_unavailable"
    case stateUnavailable = "state_unavailable"
    /// A fault of the gateway's own; the log says which.
    case internalError = "internal_error"

    /// Seconds to wait before trying again, sent as `Retry-After`.
    public static let retryAfterBusy = 5

    /// HTTP status, the CLI's exit code, and `Retry-After` where a retry soon will do.
    public var row: (status: Int, exitCode: ExitStatus, retryAfter: Int?) {
        switch self {
        case .authenticationFailed: (401, .authenticationFailed, nil)
        case .accountRefused: (401, .awsRefused, nil)
        case .lockedOut: (429, .awsRefused, nil)
        case .noRole, .roleNotAllowed, .stepUpRequired, .choiceExpired, .notPermitted, .crossSite: (403, .awsRefused, nil)
        case .invalidRequest: (400, .usage, nil)
        case .unsupportedMediaType: (415, .usage, nil)
        case .contentTooLarge: (413, .usage, nil)
        case .awsRefused: (502, .awsRefused, nil)
        case .upstreamUnavailable, .auditUnavailable, .clientGone, .pamUnavailable, .stateUnavailable: (503, .upstreamUnavailable, nil)
        case .busy: (503, .upstreamUnavailable, Self.retryAfterBusy)
        case .internalError: (500, .upstreamUnavailable, nil)
        }
    }

    public var status: Int { row.status }
    public var exitCode: ExitStatus { row.exitCode }
    public var retryAfter: Int? { row.retryAfter }
}
