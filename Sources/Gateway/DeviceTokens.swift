import AWSSigV4
import Foundation
import GatewayConfig
import Secrets

/// OWASP's device cookies: a client that has signed in as a user holds a signed, expiring token naming that
/// user and a random device id. Its failed guesses then count against the device, not the name (see
/// `LockoutTracker.admit`). Nothing is stored on the server; the signature is the proof.
///
/// Token: `base64url(user) "." deviceId "." expiresUnixSeconds "." base64url(HMAC-SHA256(key, the rest))`.
public struct DeviceTokens: Sendable {
    /// The first key signs; every key verifies, so a new key can be put first while tokens signed with the
    /// old one stay valid until they expire.
    let keys: [[UInt8]]
    /// Keys the one-time-code digests; derived from the signing key, so replicas that share the key file agree.
    let codeDigestKey: [UInt8]
    let lifetime: Duration
    let now: @Sendable () -> Date

    public struct KeyFileProblem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(keys: [[UInt8]], lifetime: Duration, now: @escaping @Sendable () -> Date = { Date() }) {
        precondition(!keys.isEmpty)
        self.keys = keys
        codeDigestKey = Digest.hmacSHA256(key: keys[0], string: "consolegate one-time code digests")
        self.lifetime = lifetime
        self.now = now
    }

    /// A key for this process only: tokens last until the daemon restarts.
    public static func ephemeral(lifetime: Duration) -> DeviceTokens {
        DeviceTokens(keys: [RandomToken.bytes(32)], lifetime: lifetime)
    }

    /// One key per line, at least 32 characters each (e.g. `openssl rand -base64 48`); `#` lines are comments.
    public static func load(keyFile path: String, lifetime: Duration) throws -> DeviceTokens {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KeyFileProblem(description: "lockout.device_key_file: cannot read \(path)")
        }
        let keys = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }.map { Array($0.utf8) }
        guard !keys.isEmpty, keys.allSatisfy({ $0.count >= 32 }) else {
            throw KeyFileProblem(description: "lockout.device_key_file: \(path) must hold one key of at least 32 characters per line (make one with: openssl rand -base64 48)")
        }
        return DeviceTokens(keys: keys, lifetime: lifetime)
    }

    public func issue(user: String) -> String {
        let expires = Int(now().timeIntervalSince1970) + lifetime.wholeSeconds
        let payload = "\(Self.base64url(Array(user.utf8))).\(RandomToken.make(byteCount: 16)).\(expires)"
        return payload + "." + Self.base64url(Digest.hmacSHA256(key: keys[0], string: payload))
    }

    /// The device id, when the token is well formed, signed by one of the keys, unexpired and for this user.
    public func verify(_ token: String, user: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 512, parts.count == 4, parts[0] == Self.base64url(Array(user.utf8)),
              let expires = Int(parts[2]), expires > Int(now().timeIntervalSince1970) else { return nil }
        let payload = parts[0...2].joined(separator: ".")
        let signature = String(parts[3])
        guard keys.contains(where: { RandomToken.equal(Self.base64url(Digest.hmacSHA256(key: $0, string: payload)), signature) }) else { return nil }
        return String(parts[1])
    }

    /// A one-time code's entry in the shared state: HMAC of user and code under a key derived from the
    /// signing key, which every replica shares (`lockout.device_key_file`). Six digits are quickly tried
    /// against a plain hash; without the key they are not.
    public func oneTimeCodeDigest(user: String, code: UnsafeBufferPointer<UInt8>) -> String {
        // One buffer, wiped after: no temporary copy of the code is left behind.
        var message: [UInt8] = []
        message.reserveCapacity(user.utf8.count + 1 + code.count)
        message.append(contentsOf: user.utf8)
        message.append(0)
        message.append(contentsOf: code)
        defer { wipe(&message) }
        return Digest.hmacSHA256(key: codeDigestKey, data: message).hexString
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
