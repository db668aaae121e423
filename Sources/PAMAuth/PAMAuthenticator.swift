import Foundation
@_exported import PAMProtocol
@_exported import Secrets
#if canImport(Glibc)
import Glibc
#endif

/// Runs each PAM transaction in a worker that the PAM monitor (`consolegate-pam`, a small root program of
/// its own) forks for it, as OpenSSH and Cockpit do: a module that hangs, crashes or leaks cannot hurt the
/// caller, and the caller needs no privilege to authenticate.
public struct PAMAuthenticator: Sendable {
    public static let defaultTimeout: Duration = .seconds(30)
    /// Variables passed from the caller's own environment: pam_wrapper and nss_wrapper need them, and
    /// a client's environment never reaches this list.
    static let inheritedPrefixes = ["PAM_WRAPPER", "NSS_WRAPPER", "LD_PRELOAD", "UID_WRAPPER", "LDAP"]

    public let monitor: PAMMonitor
    public var timeout: Duration
    /// The cap on transactions at once, and how long one may wait for a slot.
    public let maxConcurrent: Int
    let queueTimeout: Duration
    let slots: TransactionSlots

    /// Starts the monitor for `service` (and the `stepUpServices` of access rules); its workers get a minimal
    /// environment (`helperEnvironment`).
    public init(monitorExecutable: String = PAMMonitor.defaultExecutable, service: String, stepUpServices: [String] = [], timeout: Duration = defaultTimeout,
                maxConcurrent: Int = 32, queueTimeout: Duration = .seconds(5),
                callerEnvironment: [String: String] = ProcessInfo.processInfo.environment) throws {
        Self.ignoreSIGPIPE
        self.monitor = try PAMMonitor(executable: monitorExecutable, services: [service] + stepUpServices.filter { $0 != service }, timeout: timeout,
                                      maxConcurrent: maxConcurrent,
                                      environment: Self.helperEnvironment(from: callerEnvironment))
        self.timeout = timeout
        self.maxConcurrent = maxConcurrent
        self.slots = TransactionSlots(limit: maxConcurrent)
        self.queueTimeout = queueTimeout
    }

    /// A minimal environment: a fixed PATH and locale, plus the wrapper variables of the caller's own.
    public static func helperEnvironment(from caller: [String: String]) -> [String: String] {
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"]
        for (name, value) in caller where inheritedPrefixes.contains(where: { name.hasPrefix($0) }) {
            environment[name] = value
        }
        return environment
    }

    /// A worker that dies must not take the caller with it when the caller writes to its socket.
    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Password (then one-time code, …) authentication. A secret over PAM's 512-byte limit is refused
    /// before PAM sees it, rather than silently truncated by pam_unix.
    public func authenticate(_ request: PAMRequest, secrets: [SecretBytes]) async -> PAMOutcome {
        if secrets.contains(where: \.isTooLong) {
            return .failure(.authenticationFailed, "a secret is longer than \(SecretBytes.maximumLength) bytes; refused before PAM")
        }
        return await run(request, responder: SecretsResponder(secrets: secrets))
    }

    /// Runs the transaction once a slot is free; PAM's fail delay after a failure is waited out here, without
    /// holding a thread or a slot.
    public func run(_ request: PAMRequest, responder: any PAMConversationResponder) async -> PAMOutcome {
        guard await slots.acquire(timeout: queueTimeout) else {
            return .failure(.busy, "\(maxConcurrent) PAM transactions were running and none ended within \(queueTimeout); PAM not run")
        }
        let outcome = await withCheckedContinuation { continuation in
            // Blocking pipe I/O on a thread of its own, never on the cooperative pool.
            let thread = Thread { continuation.resume(returning: TransactionSession(authenticator: self, request: request, responder: responder).run()) }
            thread.stackSize = 512 * 1024
            thread.start()
        }
        await slots.release()
        if !outcome.succeeded, outcome.failDelay > .zero {
            try? await Task.sleep(for: outcome.failDelay)
        }
        return outcome
    }
}
