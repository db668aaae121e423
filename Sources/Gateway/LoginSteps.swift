import Minting
import PAMAuth

/// The authenticate step as the gateway uses it; `PAMAuthenticator` in production.
public protocol Authenticating: Sendable {
    func authenticate(_ request: PAMRequest, secrets: [SecretBytes]) async -> PAMOutcome
    /// The account phase alone, for callers whose identity is already known (SO_PEERCRED).
    func checkAccount(_ request: PAMRequest) async -> PAMOutcome
}

extension PAMAuthenticator: Authenticating {
    public func checkAccount(_ request: PAMRequest) async -> PAMOutcome {
        var accountOnly = request
        accountOnly.mode = .account
        return await run(accountOnly, responder: SecretsResponder(secrets: []))
    }
}

/// The mint step; `ConsoleMinter` in production.
public protocol URLMinting: Sendable {
    func mintURL(for request: MintRequest) async throws -> MintedURL
    func credentials(for request: MintRequest) async throws -> RoleSession
}

extension ConsoleMinter: URLMinting {}
