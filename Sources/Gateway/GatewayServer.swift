import Foundation
import GatewayConfig
import GatewayStore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Minting
import NIOSSL
import Metrics
import PAMAuth
import Prometheus
import Revocation
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The PAM monitor ended while the daemon ran: the daemon stops too, with a non-zero exit.
public struct MonitorExited: Error, CustomStringConvertible {
    public var waitStatus: Int32
    public var description: String { "the PAM monitor (consolegate-pam) exited (wait status \(waitStatus)); stopping so that the service restarts" }
}

/// Why the daemon will not start; the message says what to fix.
public struct GatewayStartupError: Error, CustomStringConvertible {
    public var description: String
}

/// `consolegate serve`: the JSON API on TCP and the local socket, sharing one login service.
public enum GatewayServer {
    public static func run(configuration: GatewayConfiguration, configFile: String?, environment: [String: String], logger: Logger) async throws {
        guard configuration.audit.file != nil || configuration.audit.postgres else {
            throw GatewayStartupError(description: "config: audit.file or audit.postgres is required for serve (no audit trail, no URLs)")
        }
        guard configuration.listen.httpPort != nil || configuration.listen.socket != nil else {
            throw GatewayStartupError(description: "config: listen.http or listen.socket is required for serve")
        }
        let serviceAccount: ServiceAccount?
        do {
            serviceAccount = try ServiceAccount.toBecome(configuration.serviceUser, configFile: configFile)
        } catch {
            throw GatewayStartupError(description: "refusing to start: \(error)")
        }
        let problems = StartupChecks.fileProblems(configFile: configFile, configuration: configuration, environment: environment, serviceAccount: serviceAccount)
        guard problems.isEmpty else {
            throw GatewayStartupError(description: (["refusing to start: files others could change or read"] + problems.map(\.description)).joined(separator: "\n  "))
        }
        // Files the daemon creates (audit log, socket) start private; the socket is opened up explicitly below.
        umask(0o077)
        try FileDescriptorLimit.raise(toServe: configuration.listen)
        let auditFile = configuration.audit.file.map { AuditLog(path: $0, owner: serviceAccount) }
        do {
            try await auditFile?.open()
        } catch {
            throw GatewayStartupError(description: "\(error)")
        }
        let shared = try SharedState(configuration, environment: environment, logger: logger)
        let deviceTokens: DeviceTokens
        do {
            deviceTokens = try configuration.lockout.deviceKeyFile.map { try DeviceTokens.load(keyFile: $0, lifetime: configuration.lockout.deviceTokenLifetime) }
                ?? .ephemeral(lifetime: configuration.lockout.deviceTokenLifetime)
        } catch {
            throw GatewayStartupError(description: "\(error)")
        }
        // One broker for minting and revoking: one credential cache, one transport.
        let broker = try Broker(configuration: configuration.aws, environment: environment, transport: AsyncHTTPTransport(environment: environment))
        let minter = try ConsoleMinter(configuration: configuration.aws, broker: broker)
        let authenticator: PAMAuthenticator
        do {
            authenticator = try PAMAuthenticator(service: configuration.pam.service, stepUpServices: configuration.access.compactMap(\.pamService),
                                                 timeout: configuration.pam.timeout,
                                                 maxConcurrent: configuration.pam.maxConcurrent, queueTimeout: configuration.pam.queueTimeout,
                                                 callerEnvironment: environment)
        } catch {
            throw GatewayStartupError(description: "\(error)")
        }
        let audit = AuditTrail(shared.auditSinks + [auditFile].compactMap { $0 })
        let service = LoginService(configuration: configuration, authenticator: authenticator, minter: minter, audit: audit,
                                   state: shared.state, deviceTokens: deviceTokens, logger: logger)
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        LoginService.registerMetrics()
        let routes = GatewayRoutes(service: service, configuration: configuration,
                                   revocations: revocations(configuration, broker: broker, shared: shared, audit: audit))

        let listen = configuration.listen
        let gate = ConnectionGate()
        // Set to the number of listeners below, before any starts; root is given up once the last one is bound,
        // and only then are connections set up and read.
        let startingListeners = Mutex(0)
        let listenerRunning: @Sendable () async -> Void = {
            guard startingListeners.withLock({ $0 -= 1; return $0 == 0 }) else { return }
            await giveUpRoot(to: serviceAccount, audit: auditFile, logger: logger)
            gate.open()
        }
        var services: [any Service] = []
        if let host = listen.httpHost, let port = listen.httpPort {
            services.append(Application(router: routes.apiRouter(), server: try apiServer(configuration, gate: gate),
                                        configuration: .init(address: .hostname(host, port: port)), onServerRunning: { _ in await listenerRunning() },
                                        logger: logger.listener("api")))
        }
        if let metricsAddress = listen.metrics {
            let limiter = ConnectionLimiter(limits: .init(listen, perAddress: listen.maxConnectionsPerAddress))
            services.append(Application(router: GatewayRoutes.metricsRouter(metrics), server: .gated(gate, .init(additionalChannelHandlers: [limiter.handler()])),
                                        configuration: .init(address: .hostname(metricsAddress.host, port: metricsAddress.port)),
                                        onServerRunning: { _ in await listenerRunning() }, logger: logger.listener("metrics")))
        }
        if let socket = listen.socket {
            let group = try listen.socketGroup.map(SocketPath.groupID)
            try SocketPath.prepare(socket)
            let mode = listen.socketMode
            let limiter = ConnectionLimiter(limits: .init(listen, perAddress: nil))
            services.append(Application(
                router: routes.socketRouter(), server: .gated(gate, .init(additionalChannelHandlers: [limiter.handler()])),
                configuration: .init(address: .unixDomainSocket(path: socket)),
                onServerRunning: { _ in
                    SocketPath.setPermissions(socket, mode: mode, group: group, logger: logger)
                    await listenerRunning()
                },
                logger: logger.listener("socket")
            ))
        }
        startingListeners.withLock { $0 = services.count }
        // The database's bytes are read only once root is gone, like the clients'.
        if let database = shared.service(startingAfter: gate) { services.append(database) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // The daemon cannot start a root process again once it runs unprivileged: a monitor that dies takes the
        // daemon with it. Logins in flight fail closed (503, audited); then systemd restarts the service.
        // Once the daemon is past its own shutdown, the monitor ending (its control socket closed) is expected.
        let ending = Mutex<(daemonDone: Bool, monitorExit: Int32?)>((false, nil))
        authenticator.monitor.onExit { status in
            let unexpected = ending.withLock { state in
                if !state.daemonDone { state.monitorExit = status }
                return !state.daemonDone
            }
            guard unexpected else { return }
            logger.critical("the PAM monitor exited; shutting down", metadata: ["wait_status": "\(status)"])
            Task { await group.triggerGracefulShutdown() }
        }
        // The monitor's control socket stays open (and the monitor running) until the listeners have stopped.
        try await group.run()
        extendLifetime(authenticator)
        if let status = ending.withLock({ state in state.daemonDone = true; return state.monitorExit }) {
            throw MonitorExited(waitStatus: status)
        }
    }
}

extension GatewayServer {
    /// What `consolegate revoke --through-daemon` uses: IAM with the broker's credentials, the trail read back
    /// from PostgreSQL (with `audit.postgres`) or the file, and the daemon's own audit trail.
    static func revocations(_ configuration: GatewayConfiguration, broker: Broker, shared: SharedState, audit: any AuditSink) -> Revocations? {
        guard configuration.aws.strategy != .federationToken, let reader = configuration.audit.reader(database: shared.store) else { return nil }
        return Revocations(revoker: SessionRevoker(broker: broker), reader: reader, audit: audit)
    }

    /// The login listener: plain HTTP/1.1, or HTTPS when `listen.tls_certificate` and `listen.tls_key` are set
    /// (TLS 1.2 and later); either way behind the connection limits.
    public static func apiServer(_ configuration: GatewayConfiguration, gate: ConnectionGate) throws -> HTTPServerBuilder {
        let listen = configuration.listen
        let limiter = ConnectionLimiter(limits: .init(listen, perAddress: listen.maxConnectionsPerAddress), exemptAddresses: Set(configuration.trustedProxies))
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [limiter.handler()])
        guard let certificate = listen.tlsCertificate, let key = listen.tlsKey else { return .gated(gate, http1) }
        do {
            // Read while still root, so the key may stay readable by root alone.
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            tls.minimumTLSVersion = .tlsv12
            _ = try NIOSSLContext(configuration: tls)
            return .gated(gate, http1, tls: tls)
        } catch {
            throw GatewayStartupError(description: "listen.tls_certificate/tls_key: cannot load \(certificate) and \(key): \(error)")
        }
    }
}

extension GatewayServer {
    /// The one way past start-up: as the service user for good, or, not started as root, as whoever ran it.
    /// A drop that fails, or an audit log the service user cannot reach, stops the daemon before any
    /// connection is read.
    static func giveUpRoot(to account: ServiceAccount?, audit: AuditLog?, logger: Logger) async {
        do {
            if let account {
                try PrivilegeDrop.become(account)
                logger.info("gave up root: now \(account.name) (uid \(account.uid), gid \(account.gid)) on every thread, with no_new_privs")
            } else {
                logger.info("not started as root (uid \(geteuid())): no privileges to drop")
            }
            try await audit?.checkPathReachable()
        } catch {
            logger.critical("\(error); stopping")
            exit(2)
        }
    }
}

extension Logger {
    /// Says which listener a line is about ("listening on …" lines among them).
    func listener(_ name: String) -> Logger {
        var logger = self
        logger[metadataKey: "listener"] = .string(name)
        return logger
    }
}

extension ConnectionLimiter.Limits {
    init(_ listen: ListenSettings, perAddress: Int?) {
        self.init(maxConnections: listen.maxConnections, perAddress: perAddress, headerTimeout: .init(listen.headerTimeout),
                  idleTimeout: .init(listen.idleTimeout))
    }
}

/// Each connection is a descriptor: the soft limit is raised to the hard one, and a daemon that still could
/// not hold `listen.max_connections` on each listener refuses to start rather than fail under load.
enum FileDescriptorLimit {
    /// For the audit log, the PAM helpers' pipes, outgoing HTTPS connections and the listeners themselves.
    static let reserve = 256

    static func raise(toServe listen: ListenSettings) throws {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let listeners = (listen.httpPort == nil ? 0 : 1) + (listen.socket == nil ? 0 : 1) + (listen.metrics == nil ? 0 : 1)
        let needed = listeners * listen.maxConnections + reserve
        guard limit.rlim_cur >= needed else {
            throw GatewayStartupError(description: "listen.max_connections \(listen.maxConnections) on \(listeners) listeners needs \(needed) file descriptors, but the limit is \(limit.rlim_cur); lower listen.max_connections or raise LimitNOFILE (systemd) / ulimit -n")
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
        if let problem = FileSafety.problem(path: directory, kind: .directory) {
            throw GatewayStartupError(description: "the socket directory is not safe: \(problem) (use e.g. /run/consolegate, mode 0755)")
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
