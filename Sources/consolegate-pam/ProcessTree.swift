#if canImport(Glibc)
import Glibc
#endif

/// Ends a worker and everything its modules started, including processes that left its process group
/// (pam_exec, for one, calls setsid): stop the tree so it cannot grow, kill it, and wait until it is gone.
enum ProcessTree {
    /// Stops and kills `root` and all its descendants.
    static func terminate(root: pid_t) {
        kill(root, SIGSTOP)
        let stopped = stopDescendants(of: root)
        for pid in stopped { kill(pid, SIGKILL) }
        kill(root, SIGKILL)
        kill(-root, SIGKILL)
        // The root is reaped by the monitor; the others belong to init once the root is gone, so wait here
        // (bounded) until none of them runs any more.
        awaitEnd(of: stopped)
    }

    /// Kills everything below the calling worker before it exits. The worker is a subreaper: with no child
    /// (not even a zombie) it has no descendant at all, since orphans below it would have become its children,
    /// so the usual case costs one system call instead of a scan of every process in /proc.
    static func killOwnDescendants() {
        var info = siginfo_t()
        if waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD { return }
        let stopped = stopDescendants(of: getpid())
        for pid in stopped { kill(pid, SIGKILL) }
        awaitEnd(of: stopped)
    }

    /// Stops descendants until no new ones appear: a stopped process cannot fork.
    private static func stopDescendants(of root: pid_t) -> Set<pid_t> {
        var stopped: Set<pid_t> = []
        while true {
            let found = descendants(of: root).subtracting(stopped)
            if found.isEmpty { return stopped }
            for pid in found { kill(pid, SIGSTOP) }
            stopped.formUnion(found)
        }
    }

    private static func awaitEnd(of pids: Set<pid_t>) {
        let deadline = ContinuousClock.now + .seconds(2)
        while pids.contains(where: isRunning), ContinuousClock.now < deadline {
            sched_yield()
        }
    }

    static func descendants(of root: pid_t) -> Set<pid_t> {
        var children: [pid_t: [pid_t]] = [:]
        for (pid, parent) in parents() { children[parent, default: []].append(pid) }
        var found: Set<pid_t> = []
        var queue = children[root] ?? []
        while let pid = queue.popLast() {
            guard found.insert(pid).inserted else { continue }
            queue.append(contentsOf: children[pid] ?? [])
        }
        return found
    }

    /// Every process's parent, from /proc/PID/stat.
    private static func parents() -> [(pid_t, pid_t)] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var result: [(pid_t, pid_t)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = pid_t(name), let fields = statFields(pid), fields.count > 1, let parent = pid_t(fields[1]) else { continue }
            result.append((pid, parent))
        }
        return result
    }

    /// The fields after the command name: state, ppid, pgrp, …
    private static func statFields(_ pid: pid_t) -> [Substring]? {
        let descriptor = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Alive and not yet a zombie.
    private static func isRunning(_ pid: pid_t) -> Bool {
        guard let state = statFields(pid)?.first else { return false }
        return state != "Z" && state != "X"
    }
}
