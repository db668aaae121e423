/// Where `consolegate serve` listens.
public struct ListenSettings: Sendable, Equatable {
    public var httpHost: String?
    public var httpPort: Int?
    /// The Unix socket for local clients (`consolegate url`, the SSH ForceCommand).
    public var socket: String?
    public var socketMode: UInt16
    public var socketGroup: String?
    /// PEM files for HTTPS on `http`, for sites without a TLS reverse proxy.
    public var tlsCertificate: String?
    public var tlsKey: String?

    public init(httpHost: String? = nil, httpPort: Int? = nil, socket: String? = nil, socketMode: UInt16 = 0o660, socketGroup: String? = nil,
                tlsCertificate: String? = nil, tlsKey: String? = nil) {
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.socket = socket
        self.socketMode = socketMode
        self.socketGroup = socketGroup
    }
}

/// The secrets a PAM stack asks for, in the order it prompts.
public enum SecretKind: String, Sendable, CaseIterable, Codable {
    case password
    case otp
}

public struct PAMSettings: Sendable, Equatable {
    public var service: String
    public var timeout: Int
    public var secrets: [SecretKind]

    public init(service: String = "consolegate", timeout: Int = 30, secrets: [SecretKind] = [.password]) {
        self.service = service
        self.timeout = timeout
        self.secrets = secrets
    }
}

public struct LockoutSettings: Sendable, Equatable {
    /// Failures within `window` that lock a user name or a client address.
    public var maxFailures: Int
    public var window: Int
    /// How long a lock lasts.
    public var duration: Int
    /// Every failed login answers no sooner than this, so timing does not tell whether a user exists.
    public var failureFloor: Double

    public init(maxFailures: Int = 5, window: Int = 900, duration: Int = 900, failureFloor: Double = 2) {
        self.maxFailures = maxFailures
        self.window = window
        self.duration = duration
        self.failureFloor = failureFloor
    }
}

public struct AuditSettings: Sendable, Equatable {
    /// JSON lines, one per login attempt; a URL is returned only once its line is on disk.
    public var file: String?

    public init(file: String? = nil) {
        self.file = file
    }
}
