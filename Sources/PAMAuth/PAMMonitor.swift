import CProcessSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's handle on its PAM monitor (`consolegate-pam`), a root process of its own: started once with
/// the service, deadline and cap fixed, then sent one socket per transaction over the control socket.
/// When the handle goes away, the control socket closes and the monitor ends with its workers.
public final class PAMMonitor: Sendable {
    public let pid: pid_t
    private let control: Int32
    /// One control message at a time, so descriptors never interleave.
    private let sending = Mutex(())
    private let exited = ExitFlag()

    /// Shared with the thread that waits for the monitor, which must not keep the handle alive.
    private final class ExitFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where the monitor binary is: beside the running binary (a build, or /usr/local/bin), or, as the Debian
    /// package installs it, in ../libexec/consolegate (not a command for people to run).
    public static var defaultExecutable: String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let directory = (own as NSString).deletingLastPathComponent as NSString
        let beside = directory.appendingPathComponent("consolegate-pam")
        let libexec = ((directory.deletingLastPathComponent as NSString).appendingPathComponent("libexec/consolegate") as NSString).appendingPathComponent("consolegate-pam")
        return access(beside, X_OK) != 0 && access(libexec, X_OK) == 0 ? libexec : beside
    }

    /// `services`: every PAM service a transaction may name (the base one and the access rules' step-ups).
    public init(executable: String = PAMMonitor.defaultExecutable, services: [String], timeout: Duration, maxConcurrent: Int,
                environment: [String: String]) throws {
        var pair: [Int32] = [-1, -1]
        guard consolegate_socketpair_cloexec(&pair) == 0 else {
            throw StartFailure(description: "socketpair: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], STDIN_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        // No descriptor but the control socket and stderr: not the daemon's sockets, not its audit log.
        consolegate_spawn_add_closefrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        // Its own process group: the terminal's Ctrl-C is the daemon's to handle, not the monitor's.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = [executable] + services.flatMap { ["--service", $0] } + ["--timeout", "\(max(1, timeout.components.seconds))", "--max-concurrent", "\(maxConcurrent)"]
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        close(pair[1])
        guard status == 0 else {
            close(pair[0])
            throw StartFailure(description: "cannot start the PAM monitor \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        self.control = pair[0]
    }

    deinit {
        close(control)
        var status: Int32 = 0
        if !exited.value.load(ordering: .relaxed) { waitpid(pid, &status, 0) }
    }

    /// A socket to one new worker, or nil when the monitor cannot take it (it has exited).
    func openTransaction() -> Int32? {
        var pair: [Int32] = [-1, -1]
        guard consolegate_socketpair_cloexec(&pair) == 0 else { return nil }
        let sent = sending.withLock { _ in consolegate_send_fd(control, pair[1]) }
        close(pair[1])
        guard sent == 0 else {
            close(pair[0])
            return nil
        }
        return pair[0]
    }

    /// Blocks (on a thread of its own) until the monitor exits, then calls `handler` with its wait status.
    public func onExit(_ handler: @escaping @Sendable (Int32) -> Void) {
        Thread.detachNewThread { [pid, exited] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            exited.value.store(true, ordering: .relaxed)
            handler(status)
        }
    }

    /// Whether the monitor has ended (looked at without reaping it: `onExit` or deinit does that).
    public var hasExited: Bool {
        guard !exited.value.load(ordering: .relaxed) else { return true }
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid != 0
    }
}
