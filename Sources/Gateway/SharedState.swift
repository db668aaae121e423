import GatewayConfig
import GatewayStore
import Logging
import ServiceLifecycle

/// What `serve` keeps beyond this process, as the config says: the state in memory or in PostgreSQL, and
/// the audit rows in PostgreSQL when `audit.postgres` is set.
struct SharedState {
    let state: any GatewayState
    let auditSinks: [any AuditSink]
    let store: PostgresStore?

    init(_ configuration: GatewayConfiguration, environment: [String: String], logger: Logger) throws {
        let usesPostgres = configuration.state.backend == .postgres || configuration.audit.postgres
        if usesPostgres, let settings = configuration.state.postgres {
            do {
                store = try PostgresStore(settings: settings, environment: environment, logger: logger)
            } catch {
                throw GatewayStartupError(description: "\(error)")
            }
        } else {
            store = nil
        }
        if configuration.state.backend == .postgres, let store {
            // An attempt whose replica died holds its slots until PAM could no longer be running for it.
            let slotLifetime = configuration.pam.queueTimeout + configuration.pam.timeout + .seconds(30)
            state = PostgresState(store: store, limits: configuration.lockout, slotLifetime: slotLifetime)
        } else {
            state = MemoryState(limits: configuration.lockout)
        }
        auditSinks = configuration.audit.postgres ? store.map { [PostgresAudit(store: $0)] } ?? [] : []
    }

    /// The database's pool, schema and sweeps, started once `gate` opens (root is gone).
    func service(startingAfter gate: ConnectionGate) -> (any Service)? {
        store.map { DatabaseService(store: $0, state: state as? PostgresState, gate: gate) }
    }
}

/// Runs the pool once the daemon is unprivileged; a schema this role may not create stops the daemon with
/// the fix in its message.
struct DatabaseService: Service {
    let store: PostgresStore
    let state: PostgresState?
    let gate: ConnectionGate

    func run() async throws {
        do {
            try await gate.waitUntilOpen()
        } catch {
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            if let state { group.addTask { await state.sweepPeriodically() } }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
