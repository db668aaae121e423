/// A TCP listening address from the config.
public struct HostPort: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

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
    /// Prometheus /metrics on its own address (host, port); off when nil. Never on the login listener.
    public var metrics: HostPort?
    /// Open connections on each listener, and from one client address; past them a new connection gets a
    /// fast 503 (per address) or the oldest idle connection is shed (overall).
    public var maxConnections: Int
    public var maxConnectionsPerAddress: Int
    /// A request's head and body must arrive within this many seconds of the connection opening or the
    /// previous answer; a keep-alive connection with no request is closed after `idleTimeout`.
    public var headerTimeout: Duration
    public var idleTimeout: Duration

    public init(httpHost: String? = nil, httpPort: Int? = nil, socket: String? = nil, socketMode: UInt16 = 0o660, socketGroup: String? = nil,
                tlsCertificate: String? = nil, tlsKey: String? = nil, metrics: HostPort? = nil,
                maxConnections: Int = 1024, maxConnectionsPerAddress: Int = 128, headerTimeout: Duration = .seconds(10),
                idleTimeout: Duration = .seconds(60)) {
        self.metrics = metrics
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
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
    public var timeout: Duration
    public var secrets: [SecretKind]
    /// PAM transactions at once; later ones wait up to `queueTimeout`, then get 503.
    public var maxConcurrent: Int
    public var queueTimeout: Duration
    /// How long the OTP module accepts a code (pam_oath: about `window` × 30 s); the gateway refuses a code's
    /// second use for that long, on every replica, whatever each host's OTP file says.
    public var otpValidity: Duration

    public init(service: String = "consolegate", timeout: Duration = .seconds(30), secrets: [SecretKind] = [.password], maxConcurrent: Int = 32,
                queueTimeout: Duration = .seconds(5), otpValidity: Duration = .seconds(300)) {
        self.otpValidity = otpValidity
        self.service = service
        self.timeout = timeout
        self.secrets = secrets
        self.maxConcurrent = maxConcurrent
        self.queueTimeout = queueTimeout
    }
}

public struct LockoutSettings: Sendable, Equatable {
    /// Failed guesses within `window` that lock a user name (or one trusted device of that user).
    public var perUser: Int
    /// Failed guesses within `window` that lock a client address; high, since an office shares one NAT address.
    public var perAddress: Int
    /// PAM transactions at once for one user name, and from one client address; more get 429.
    public var perUserInFlight: Int
    public var perAddressInFlight: Int
    public var window: Duration
    /// How long a lock lasts.
    public var duration: Duration
    /// Every failed login answers no sooner than this, so timing does not tell whether a user exists.
    public var failureFloor: Duration
    /// Keys for device tokens, one per line (the first signs, all verify); a random key per process when nil.
    public var deviceKeyFile: String?
    /// How long a device token stays valid after the sign-in that issued it.
    public var deviceTokenLifetime: Duration

    public init(perUser: Int = 5, perAddress: Int = 100, perUserInFlight: Int = 1, perAddressInFlight: Int = 8, window: Duration = .seconds(900),
                duration: Duration = .seconds(900), failureFloor: Duration = .seconds(2), deviceKeyFile: String? = nil,
                deviceTokenLifetime: Duration = .seconds(30 * 86400)) {
        self.perUser = perUser
        self.perAddress = perAddress
        self.perUserInFlight = perUserInFlight
        self.perAddressInFlight = perAddressInFlight
        self.window = window
        self.duration = duration
        self.failureFloor = failureFloor
        self.deviceKeyFile = deviceKeyFile
        self.deviceTokenLifetime = deviceTokenLifetime
    }
}

public struct AuditSettings: Sendable, Equatable {
    /// JSON lines, one per login attempt; a URL is returned only once its line is on disk.
    public var file: String?
    /// Each record also (or only) as a row in the `state.postgres` database; a URL leaves only once its row
    /// is committed.
    public var postgres: Bool

    public init(file: String? = nil, postgres: Bool = false) {
        self.file = file
        self.postgres = postgres
    }
}
