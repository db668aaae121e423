import Foundation
import GatewayConfig
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Minting
import NIOSSL
import Metrics
import PAMAuth
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Why the daemon will not start; the message says what to fix.
public struct GatewayStartupError: Error, CustomStringConvertible {
    public var description: String
}

/// `consolegate serve`: the JSON API on TCP and the local socket, sharing one login service.
public enum GatewayServer {
    public static func run(configuration: GatewayConfiguration, environment: [String: String], logger: Logger) async throws {
        guard let auditFile = configuration.audit.file else {
            throw GatewayStartupError(description: "config: audit.file is required for serve (no audit trail, no URLs)")
        }
        guard configuration.listen.httpPort != nil || configuration.listen.socket != nil else {
            throw GatewayStartupError(description: "config: listen.http or listen.socket is required for serve")
        }
        // Files the daemon creates (audit log, socket) start private; the socket is opened up explicitly below.
        umask(0o077)
        let audit = AuditLog(path: auditFile)
        do {
            try await audit.open()
        } catch {
            throw GatewayStartupError(description: "\(error)")
        }
        let minter = try ConsoleMinter(configuration: configuration.aws, environment: environment, transport: AsyncHTTPTransport(environment: environment))
        let authenticator = PAMAuthenticator(timeout: .seconds(configuration.pam.timeout), callerEnvironment: environment)
        let service = LoginService(configuration: configuration, authenticator: authenticator, minter: minter, audit: audit, logger: logger)
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        LoginService.registerMetrics()
        let routes = GatewayRoutes(service: service, configuration: configuration, metrics: metrics)

        var services: [any Service] = []
        if let host = configuration.listen.httpHost, let port = configuration.listen.httpPort {
            services.append(Application(router: routes.apiRouter(), server: try httpServer(configuration.listen),
                                        configuration: .init(address: .hostname(host, port: port)), logger: logger))
        }
        if let socket = configuration.listen.socket {
            let group = try configuration.listen.socketGroup.map(SocketPath.groupID)
            try SocketPath.prepare(socket)
            let mode = configuration.listen.socketMode
            services.append(Application(
                router: routes.socketRouter(), configuration: .init(address: .unixDomainSocket(path: socket)),
                onServerRunning: { _ in SocketPath.setPermissions(socket, mode: mode, group: group, logger: logger) },
                logger: logger
            ))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension GatewayServer {
    /// Plain HTTP/1.1, or HTTPS when `listen.tls_certificate` and `listen.tls_key` are set (TLS 1.2 and later).
    static func httpServer(_ listen: ListenSettings) throws -> HTTPServerBuilder {
        guard let certificate = listen.tlsCertificate, let key = listen.tlsKey else { return .http1() }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tls.minimumTLSVersion = .tlsv12
            return try .tls(.http1(), tlsConfiguration: tls)
        } catch {
            throw GatewayStartupError(description: "listen.tls_certificate/tls_key: cannot load \(certificate) and \(key): \(error)")
        }
    }
}

/// The local socket's file: a safe directory, no stale socket in the way, the configured mode and group.
enum SocketPath {
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw GatewayStartupError(description: "the socket directory \(directory) does not exist")
        }
        // Anyone who can write there could replace the socket with their own and collect logins.
        guard info.st_mode & S_IWOTH == 0 else {
            throw GatewayStartupError(description: "the socket directory \(directory) is writable by others; refusing to start (use e.g. /run/consolegate, mode 0755)")
        }
        if lstat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFSOCK else {
                throw GatewayStartupError(description: "\(path) exists and is not a socket; refusing to replace it")
            }
            unlink(path)
        }
    }

    static func groupID(_ name: String) throws -> gid_t {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            throw GatewayStartupError(description: "listen.socket_group: no group named \(name)")
        }
        return entry.gr_gid
    }

    /// Until this succeeds the socket keeps the umask's 0600 (only root can connect); if it fails, the
    /// daemon stops rather than run with a socket nobody it serves can use.
    static func setPermissions(_ path: String, mode: UInt16, group: gid_t?, logger: Logger) {
        var problem: String?
        if let group, chown(path, uid_t.max, group) != 0 {
            problem = "cannot set the socket's group: \(String(cString: strerror(errno)))"
        } else if chmod(path, mode_t(mode)) != 0 {
            problem = "cannot set the socket's mode: \(String(cString: strerror(errno)))"
        }
        guard let problem else { return }
        logger.critical("\(problem); stopping", metadata: ["path": "\(path)"])
        exit(2)
    }
}
