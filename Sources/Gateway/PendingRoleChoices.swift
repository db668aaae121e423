import Foundation

/// Web logins waiting for their user to pick a role: proof of a fresh authentication, bound to the browser's
/// CSRF cookie and client address, usable once, for two minutes. The password is not asked for again (a
/// one-time code could not be used twice anyway).
actor PendingRoleChoices {
    struct Pending {
        var user: AuthenticatedUser
        var csrf: String
        var client: String
        var expires: ContinuousClock.Instant
    }

    static let lifetime: Duration = .seconds(120)
    private var pending: [String: Pending] = [:]

    func add(user: AuthenticatedUser, csrf: String, client: String) -> String {
        let now = ContinuousClock.now
        pending = pending.filter { $0.value.expires > now }
        let token = RandomToken.make()
        pending[token] = Pending(user: user, csrf: csrf, client: client, expires: now + Self.lifetime)
        return token
    }

    /// The user the token was issued to, if it is valid for this browser and address; the token is spent.
    func take(_ token: String, csrf: String, client: String) -> AuthenticatedUser? {
        guard let entry = pending.removeValue(forKey: token), entry.expires > .now,
              RandomToken.equal(entry.csrf, csrf), entry.client == client else { return nil }
        return entry.user
    }
}

enum RandomToken {
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Random bytes (32 unless told), base64url.
    static func make(byteCount: Int = 32) -> String {
        DeviceTokens.base64url(bytes(byteCount))
    }

    static func isWellFormed(_ token: String) -> Bool {
        token.count == 43 && token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// Compares without stopping at the first difference.
    static func equal(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
