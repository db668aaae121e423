import Foundation

/// Where the state that replicas must share lives: the lockout, pending web role choices and used one-time
/// codes. `memory` (the default) keeps it in the one process; `postgres` shares it between replicas.
public struct StateSettings: Sendable, Equatable {
    public enum Backend: String, Sendable, CaseIterable {
        case memory
        case postgres
    }

    public var backend: Backend
    /// The database of `backend: postgres` and of `audit.postgres`.
    public var postgres: PostgresSettings?

    public init(backend: Backend = .memory, postgres: PostgresSettings? = nil) {
        self.backend = backend
        self.postgres = postgres
    }
}

/// One PostgreSQL database, reached over TCP.
public struct PostgresSettings: Sendable, Equatable {
    /// libpq's `sslmode` values that make sense for a gateway: no TLS (a loopback or a trusted link), TLS
    /// without checking the server, or TLS with the server's certificate and name checked (the default).
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable
        case require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var tls: TLSMode
    /// The CA bundle that signs the server's certificate, for `verify-full`; the system's when nil.
    public var caFile: String?
    /// A file holding the password (first line); `PGPASSWORD` when nil.
    public var passwordFile: String?
    /// How long one decision (a lockout check, a role choice, an audit row) may take; past it the login
    /// answers 503 and no URL leaves.
    public var timeout: Duration
    /// Connections this replica keeps at most.
    public var maxConnections: Int

    public init(host: String, port: Int = 5432, user: String, database: String, tls: TLSMode = .verifyFull, caFile: String? = nil,
                passwordFile: String? = nil, timeout: Duration = .seconds(2), maxConnections: Int = 8) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.tls = tls
        self.caFile = caFile
        self.passwordFile = passwordFile
        self.timeout = timeout
        self.maxConnections = maxConnections
    }

    /// `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=MODE]`, with no password in it.
    public init(url text: String) throws(PostgresURLProblem) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw PostgresURLProblem(text: "\"\(text)\" is not a URL such as postgres://consolegate@db.example.com:5432/consolegate")
        }
        guard components.password == nil else {
            throw PostgresURLProblem(text: "must not hold a password (config files are read by more people than they should); use state.postgres.password_file or PGPASSWORD")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLProblem(text: "names no user (postgres://USER@HOST/DATABASE)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLProblem(text: "names no database (postgres://USER@HOST/DATABASE)")
        }
        var tls = TLSMode.verifyFull
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode", let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                throw PostgresURLProblem(text: "only sslmode=disable|require|verify-full may follow the database name")
            }
            tls = mode
        }
        self.init(host: host, port: components.port ?? 5432, user: user, database: database, tls: tls)
    }
}

public struct PostgresURLProblem: Error {
    public var text: String
}
