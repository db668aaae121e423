import Foundation

/// A set of AWS credentials. `description` never shows the secret or the session token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: Date?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var isTemporary: Bool { sessionToken != nil }

    public var description: String {
        "AWSCredentials(accessKeyId: \(accessKeyId), temporary: \(isTemporary), expiration: \(expiration.map { "\($0)" } ?? "none"))"
    }
}
