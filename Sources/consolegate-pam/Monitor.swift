import CProcessSupport
import PAMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The root half of the privilege separation (OpenSSH's monitor, Cockpit's cockpit-session): it never reads
/// the network, only a control socket from the daemon that carries one descriptor per PAM transaction. For
/// each it forks a worker, at most `maxConcurrent` at once, and kills a worker's whole process tree at the
/// deadline. Past the cap a transaction waits a moment (`pendingWaitMilliseconds`, in a queue as long as the cap) and is
/// then answered `busy`. The services, the deadline and the cap are fixed at start. Single-threaded: a poll
/// loop over the control socket and a signalfd for SIGCHLD.
/// Its bookkeeping is `Deadlines` in milliseconds of CLOCK_MONOTONIC: dictionaries, tuples and `Duration`
/// would have the Swift runtime build type metadata from mangled names and do 128-bit arithmetic, code that
/// stays resident in a process that otherwise sleeps in poll (scripts/bench.sh measures its RSS).
struct Monitor {
    let arguments: MonitorArguments
    let control: Int32
    /// The running workers' pids, until their deadlines.
    private var workers = Deadlines()
    /// The sockets of transactions that came while `maxConcurrent` workers ran, until when they may wait.
    private var pending = Deadlines()
    private var childSignals: Int32 = -1
    /// The daemon counts a worker as done when its socket closes, a moment before the monitor has reaped it;
    /// a transaction that comes in that moment waits rather than be refused.
    static let pendingWaitMilliseconds = 500

    init(arguments: MonitorArguments, control: Int32) {
        self.arguments = arguments
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
            var descriptors = (pollfd(fd: control, events: Int16(POLLIN), revents: 0), pollfd(fd: childSignals, events: Int16(POLLIN), revents: 0))
            let timeout = nextTimeout()
            let ready = withUnsafeMutableBytes(of: &descriptors) { poll($0.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, timeout) }
            if ready < 0 {
                if errno == EINTR { continue }
                Log.fatal("poll: \(String(cString: strerror(errno)))")
            }
            if descriptors.1.revents != 0 { drain(childSignals) }
            if descriptors.0.revents & Int16(POLLIN) != 0 {
                var transaction: Int32 = -1
                let received = consolegate_receive_fd(control, &transaction)
                if received <= 0 { shutDown() }
                if transaction < 0 {
                    Log.refused("a control message without exactly one descriptor")
                } else {
                    admit(transaction)
                }
            } else if descriptors.0.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                shutDown()
            }
        }
    }

    private mutating func admit(_ transaction: Int32) {
        reap()
        if workers.count < arguments.maxConcurrent, pending.isEmpty {
            start(transaction)
        } else if pending.count < arguments.maxConcurrent {
            pending.append(Int(transaction), until: monotonicMilliseconds() + Self.pendingWaitMilliseconds)
        } else {
            refuseBusy(transaction)
        }
    }

    /// Starts waiting transactions while workers are free; answers `busy` to those that waited too long.
    private mutating func startPending() {
        while workers.count < arguments.maxConcurrent, !pending.isEmpty {
            start(Int32(pending.removeFirst()))
        }
        let now = monotonicMilliseconds()
        while let until = pending.firstTime, until <= now {
            refuseBusy(Int32(pending.removeFirst()))
        }
    }

    private func refuseBusy(_ transaction: Int32) {
        Log.refused("a transaction while \(arguments.maxConcurrent) workers run (--max-concurrent)")
        _ = try? FrameChannel(readFD: transaction, writeFD: transaction).send(.busy, [])
        close(transaction)
    }

    private mutating func start(_ transaction: Int32) {
        let deadline = monotonicMilliseconds() + arguments.timeoutSeconds * 1000
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
            let status = Worker.run(channel: FrameChannel(readFD: STDIN_FILENO, writeFD: STDOUT_FILENO), services: arguments.serviceNames,
                                    deadline: .now + .milliseconds(deadline - monotonicMilliseconds()))
            // _exit: no atexit handlers or library destructors run twice (pam_wrapper's would remove the
            // monitor's own directory).
            _exit(status)
        }
        close(transaction)
        if pid < 0 {
            Log.refused("fork: \(String(cString: strerror(errno)))")
            return
        }
        workers.append(Int(pid), until: deadline)
    }

    private mutating func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            workers.remove(Int(pid))
        }
    }

    private mutating func killOverdue() {
        let now = monotonicMilliseconds()
        while let pid = workers.overdue(at: now) {
            end(pid_t(pid))
            workers.remove(pid)
        }
    }

    /// Kills a worker with everything below it, and reaps it.
    private func end(_ pid: pid_t) {
        ProcessTree.terminate(root: pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    /// poll's timeout: until the nearest deadline of a worker or a waiting transaction, or none.
    private func nextTimeout() -> Int32 {
        let nearest = min(workers.earliest ?? .max, pending.earliest ?? .max)
        guard nearest != .max else { return -1 }
        return Int32(clamping: max(nearest - monotonicMilliseconds() + 1, 0))
    }

    private func drain(_ signals: Int32) {
        var buffer = [UInt8](repeating: 0, count: 128 * 8)
        while read(signals, &buffer, buffer.count) > 0 {}
    }

    /// The daemon is gone: so are the workers, and so is the monitor.
    private func shutDown() -> Never {
        for socket in pending.keys { close(Int32(socket)) }
        for pid in workers.keys {
            end(pid_t(pid))
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
