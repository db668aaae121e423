#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The gateway's answers as the server writes them and `consolegate login`, `url`, `unlock` and `revoke` read
// them; docs/openapi.yaml describes the same shapes, and Tests/Web/openapi_test.py holds the server to it.

/// A console sign-in URL (`format: url`, the default).
public struct URLAnswer: Codable, Sendable, Equatable {
    public var url: String
    /// When the console session ends, ISO 8601.
    public var expiresAt: String
    public var roleArn: String
    public var sessionName: String
    /// Password logins only: the device token to send back next time.
    public var deviceToken: String?

    public init(url: String, expiresAt: String, roleArn: String, sessionName: String, deviceToken: String? = nil) {
        self.url = url
        self.expiresAt = expiresAt
        self.roleArn = roleArn
        self.sessionName = sessionName
        self.deviceToken = deviceToken
    }

    enum CodingKeys: String, CodingKey {
        case url, expiresAt = "expires_at", roleArn = "role_arn", sessionName = "session_name", deviceToken = "device_token"
    }
}

/// The AWS CLI's `credential_process` output, Version 1 (`format: credential-process`); the API adds the
/// device token, which the CLI keeps and does not print.
public struct CredentialProcessOutput: Codable, Sendable, Equatable {
    public var version = 1
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// ISO 8601.
    public var expiration: String?
    public var deviceToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String?, expiration: String?, deviceToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.deviceToken = deviceToken
    }

    enum CodingKeys: String, CodingKey {
        case version = "Version", accessKeyId = "AccessKeyId", secretAccessKey = "SecretAccessKey", sessionToken = "SessionToken"
        case expiration = "Expiration", deviceToken = "device_token"
    }
}

/// `/api/v1/info`: what a client must ask a person for. Nothing secret.
public struct InfoAnswer: Codable, Sendable, Equatable {
    /// The secrets every sign-in takes, in order (`password`, `otp`).
    public var secrets: [String]
    /// What some role takes beyond them (a step-up); `/api/v1/roles` says which role.
    public var stepUpSecrets: [String]
    public var logoutFirst: Bool

    public init(secrets: [String], stepUpSecrets: [String], logoutFirst: Bool) {
        self.secrets = secrets
        self.stepUpSecrets = stepUpSecrets
        self.logoutFirst = logoutFirst
    }

    enum CodingKeys: String, CodingKey {
        case secrets, stepUpSecrets = "step_up_secrets", logoutFirst = "logout_first"
    }
}

/// `/api/v1/roles`: the roles someone may take. `roles` came first; `offers` adds each one's label and what
/// taking it needs beyond this sign-in.
public struct RolesAnswer: Codable, Sendable, Equatable {
    public struct Offer: Codable, Sendable, Equatable {
        public var role: String
        public var label: String
        public var stepUpSecrets: [String]

        public init(role: String, label: String, stepUpSecrets: [String]) {
            self.role = role
            self.label = label
            self.stepUpSecrets = stepUpSecrets
        }

        enum CodingKeys: String, CodingKey {
            case role, label, stepUpSecrets = "step_up_secrets"
        }
    }

    public var roles: [String]
    public var offers: [Offer]

    public init(offers: [Offer]) {
        self.roles = offers.map(\.role)
        self.offers = offers
    }
}

/// `/healthz`: `ok`, or `degraded` with the reason, so that a load balancer drains this replica.
public struct HealthAnswer: Codable, Sendable, Equatable {
    public var status: String
    public var reason: String?

    public init(status: String, reason: String? = nil) {
        self.status = status
        self.reason = reason
    }
}

/// Every refusal: a sentence for people, and the failure for programs (`consolegate` picks its exit code
/// from it). Some failures say more: the roles one may take, or the secrets a role needs.
public struct ErrorAnswer: Codable, Sendable, Equatable {
    public var error: String
    public var failure: Failure
    public var allowedRoles: [String]?
    public var secrets: [String]?

    public init(_ failure: Failure, _ error: String, allowedRoles: [String]? = nil, secrets: [String]? = nil) {
        self.error = error
        self.failure = failure
        self.allowedRoles = allowedRoles
        self.secrets = secrets
    }

    enum CodingKeys: String, CodingKey {
        case error, failure, allowedRoles = "allowed_roles", secrets
    }
}

/// The socket's `/v1/unlock`: the key unlocked, or null and why not.
public struct UnlockAnswer: Codable, Sendable, Equatable {
    public var unlocked: String?
    public var message: String?

    public init(unlocked: String?, message: String? = nil) {
        self.unlocked = unlocked
        self.message = message
    }

    /// `unlocked` is always there, null when nothing was locked.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(unlocked, forKey: .unlocked)
        try container.encodeIfPresent(message, forKey: .message)
    }
}

/// The socket's `/v1/revoke`: what was done to each role's `ConsoleGateRevocations` policy.
public struct RevokeAnswer: Codable, Sendable, Equatable {
    public struct Revoked: Codable, Sendable, Equatable {
        public var role: String
        public var detail: String
        /// Statements in the policy afterwards, and its size in bytes.
        public var statements: Int
        public var size: Int

        public init(role: String, detail: String, statements: Int, size: Int) {
            self.role = role
            self.detail = detail
            self.statements = statements
            self.size = size
        }
    }

    public var revoked: [Revoked]

    public init(revoked: [Revoked]) {
        self.revoked = revoked
    }
}

/// What `consolegate url` asks the socket's `/v1/url` for.
public struct SocketURLRequest: Codable, Sendable, Equatable {
    /// `url` (when absent) or `credential-process`.
    public var format: String?
    public var role: String?
    public var destination: String?

    public init(format: String?, role: String?, destination: String?) {
        self.format = format
        self.role = role
        self.destination = destination
    }
}

/// What `consolegate unlock` asks the socket's `/v1/unlock` for.
public struct SocketUnlockRequest: Codable, Sendable, Equatable {
    /// A user name or a client address.
    public var target: String

    public init(target: String) {
        self.target = target
    }
}

/// What `consolegate revoke --through-daemon` asks the socket's `/v1/revoke` for: one role, or none (the
/// roles the daemon's trail shows).
public struct SocketRevokeRequest: Codable, Sendable, Equatable {
    public var user: String?
    public var role: String?
    /// Everyone's sessions of `role`; false when absent.
    public var all: Bool

    public init(user: String?, role: String?, all: Bool) {
        self.user = user
        self.role = role
        self.all = all
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        user = try container.decodeIfPresent(String.self, forKey: .user)
        role = try container.decodeIfPresent(String.self, forKey: .role)
        all = try container.decodeIfPresent(Bool.self, forKey: .all) ?? false
    }
}

/// The one encoding of every answer: keys sorted, slashes as they are.
public enum APIJSON {
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The answer types hold only strings, numbers, booleans and arrays of them: encoding cannot fail.
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    public static func decode<Answer: Decodable>(_ type: Answer.Type, from bytes: [UInt8]) -> Answer? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }
}
