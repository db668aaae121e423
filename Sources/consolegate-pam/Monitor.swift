import CProcessSupport
import PAMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The root half of the privilege separation (OpenSSH's monitor, Cockpit's cockpit-session): it never reads
/// the network, only a control socket from the daemon that carries one descriptor per PAM transaction. For
/// each it forks a worker, at most `maxConcurrent` at once, and kills a worker's whole process tree at the
/// deadline. Past the cap a transaction waits a moment (`pendingWait`, in a queue as long as the cap) and is
/// then answered `busy`. The services, the deadline and the cap are fixed at start. Single-threaded: a poll
/// loop over the control socket and a signalfd for SIGCHLD.
struct Monitor {
    /// The base service and the step-up services of the access rules: no other runs.
    let services: Set<String>
    let timeout: Duration
    let maxConcurrent: Int
    let control: Int32
    private var workers: [pid_t: ContinuousClock.Instant] = [:]
    /// Transactions that came while `maxConcurrent` workers ran, and until when they may wait.
    private var pending: [(socket: Int32, until: ContinuousClock.Instant)] = []
    private var childSignals: Int32 = -1
    /// The daemon counts a worker as done when its socket closes, a moment before the monitor has reaped it;
    /// a transaction that comes in that moment waits rather than be refused.
    static let pendingWait: Duration = .milliseconds(500)

    init(services: Set<String>, timeout: Duration, maxConcurrent: Int, control: Int32) {
        self.services = services
        self.timeout = timeout
        self.maxConcurrent = maxConcurrent
        self.control = control
    }

    mutating func run() -> Never {
        childSignals = consolegate_child_signal_fd()
        guard childSignals >= 0 else {
            Log.fatal("cannot watch for ended workers: \(String(cString: strerror(errno)))")
        }
        while true {
            reap()
            killOverdue()
            startPending()
            var descriptors = [pollfd(fd: control, events: Int16(POLLIN), revents: 0), pollfd(fd: childSignals, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, 2, nextTimeout())
            if ready < 0 {
                if errno == EINTR { continue }
                Log.fatal("poll: \(String(cString: strerror(errno)))")
            }
            if descriptors[1].revents != 0 { drain(childSignals) }
            if descriptors[0].revents & Int16(POLLIN) != 0 {
                var transaction: Int32 = -1
                let received = consolegate_receive_fd(control, &transaction)
                if received <= 0 { shutDown() }
                if transaction < 0 {
                    Log.refused("a control message without exactly one descriptor")
                } else {
                    admit(transaction)
                }
            } else if descriptors[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                shutDown()
            }
        }
    }

    private mutating func admit(_ transaction: Int32) {
        reap()
        if workers.count < maxConcurrent, pending.isEmpty {
            start(transaction)
        } else if pending.count < maxConcurrent {
            pending.append((transaction, ContinuousClock.now + Self.pendingWait))
        } else {
            refuseBusy(transaction)
        }
    }

    /// Starts waiting transactions while workers are free; answers `busy` to those that waited too long.
    private mutating func startPending() {
        while workers.count < maxConcurrent, !pending.isEmpty {
            start(pending.removeFirst().socket)
        }
        let now = ContinuousClock.now
        while let first = pending.first, first.until <= now {
            pending.removeFirst()
            refuseBusy(first.socket)
        }
    }

    private func refuseBusy(_ transaction: Int32) {
        Log.refused("a transaction while \(maxConcurrent) workers run (--max-concurrent)")
        _ = try? FrameChannel(readFD: transaction, writeFD: transaction).send(.busy, [])
        close(transaction)
    }

    private mutating func start(_ transaction: Int32) {
        let deadline = ContinuousClock.now + timeout
        let pid = fork()
        if pid == 0 {
            // The worker: only its transaction socket (as stdin and stdout) and stderr stay open.
            consolegate_unblock_child_signal()
            dup2(transaction, STDIN_FILENO)
            dup2(transaction, STDOUT_FILENO)
            consolegate_closefrom(3)
            // Its own process group; it dies with the monitor; and what its modules start stays below it even
            // after a double fork (setsid -f), so that it can be found and killed.
            setpgid(0, 0)
            consolegate_die_with_parent()
            consolegate_become_subreaper()
            let status = Worker.run(channel: FrameChannel(readFD: STDIN_FILENO, writeFD: STDOUT_FILENO), services: services, deadline: deadline)
            // _exit: no atexit handlers or library destructors run twice (pam_wrapper's would remove the
            // monitor's own directory).
            _exit(status)
        }
        close(transaction)
        if pid < 0 {
            Log.refused("fork: \(String(cString: strerror(errno)))")
            return
        }
        workers[pid] = deadline
    }

    private mutating func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            workers[pid] = nil
        }
    }

    private mutating func killOverdue() {
        let now = ContinuousClock.now
        for (pid, deadline) in workers where deadline <= now {
            end(pid)
            workers[pid] = nil
        }
    }

    /// Kills a worker with everything below it, and reaps it.
    private func end(_ pid: pid_t) {
        ProcessTree.terminate(root: pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    private func nextTimeout() -> Int32 {
        guard let nearest = (Array(workers.values) + pending.map(\.until)).min() else { return -1 }
        let remaining = nearest - ContinuousClock.now
        guard remaining > .zero else { return 0 }
        return Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
    }

    private func drain(_ signals: Int32) {
        var buffer = [UInt8](repeating: 0, count: 128 * 8)
        while read(signals, &buffer, buffer.count) > 0 {}
    }

    /// The daemon is gone: so are the workers, and so is the monitor.
    private func shutDown() -> Never {
        for transaction in pending { close(transaction.socket) }
        for pid in workers.keys {
            end(pid)
        }
        exit(0)
    }
}

/// One line per event on stderr (the daemon's, so the journal's): what was refused, and why.
enum Log {
    static func refused(_ what: String) {
        write("consolegate-pam[\(getpid())]: refused: \(what)")
    }

    static func fatal(_ what: String) -> Never {
        write("consolegate-pam[\(getpid())]: \(what)")
        exit(1)
    }

    private static func write(_ line: String) {
        let bytes = Array((line.unicodeScalars.map { $0.value < 0x20 ? "?" : String($0) }.joined() + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
