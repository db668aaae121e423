/// Answers the prompts PAM asks during one transaction. Called on the transaction's own thread.
public protocol PAMConversationResponder: AnyObject, Sendable {
    /// The answer to a prompt, or nil when there is none: the transaction then fails (fail closed).
    func answer(_ prompt: PAMMessage) -> SecretBytes?
}

/// Answers each echo-off prompt with the next secret: the password, then a one-time code, … Echo-on prompts
/// (a user name, a question) cannot be answered from secrets and fail the transaction.
public final class SecretsResponder: PAMConversationResponder, @unchecked Sendable {
    private var remaining: [SecretBytes]

    public init(secrets: [SecretBytes]) {
        remaining = secrets
    }

    public func answer(_ prompt: PAMMessage) -> SecretBytes? {
        guard prompt.style == .promptEchoOff, !remaining.isEmpty else { return nil }
        return remaining.removeFirst()
    }
}
