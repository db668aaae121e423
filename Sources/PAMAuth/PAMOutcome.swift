/// How an authentication (or account check) ended. Only `.success` lets anyone in.
public struct PAMOutcome: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case success
        /// Wrong or missing secret, unknown user, a module error during authentication.
        case authenticationFailed
        /// Authenticated (or known), but the account phase refused: expired, locked, password must change.
        case accountRefused
        /// The worker crashed, was killed at the deadline, or broke the protocol.
        case helperFailed
        /// The PAM monitor is gone; no PAM ran (or a running transaction was cut off). The daemon exits.
        case unavailable
        /// No PAM ran: `pam.max_concurrent` transactions were running and none ended within `pam.queue_timeout`.
        case busy
    }

    public var verdict: Verdict
    /// For operators only (`--verbose`, logs): which phase said what. Never shown to the person logging in.
    public var detail: String
    /// PAM_TEXT_INFO and PAM_ERROR_MSG texts, in order.
    public var messages: [PAMMessage]
    /// The delay PAM asked for after a failure; already waited out when `PAMAuthenticator` returns.
    public var failDelay: Duration

    public init(verdict: Verdict, detail: String, messages: [PAMMessage] = [], failDelay: Duration = .zero) {
        self.verdict = verdict
        self.detail = detail
        self.messages = messages
        self.failDelay = failDelay
    }

    public var succeeded: Bool { verdict == .success }

    static func failure(_ verdict: Verdict, _ detail: String, messages: [PAMMessage] = []) -> PAMOutcome {
        PAMOutcome(verdict: verdict, detail: detail, messages: messages, failDelay: .zero)
    }
}
