import CProcessSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One helper process, from posix_spawn to reaping; runs on its own thread.
struct HelperSession {
    let authenticator: PAMAuthenticator
    let request: PAMRequest
    let responder: any PAMConversationResponder

    func run() -> PAMOutcome {
        var toHelper: [Int32] = [-1, -1]
        var fromHelper: [Int32] = [-1, -1]
        // Close-on-exec, so helpers spawned at the same time by other threads never inherit these.
        guard consolegate_pipe_cloexec(&toHelper) == 0 else { return .failure(.helperFailed, "pipe: \(String(cString: strerror(errno)))") }
        guard consolegate_pipe_cloexec(&fromHelper) == 0 else {
            close(toHelper[0]); close(toHelper[1])
            return .failure(.helperFailed, "pipe: \(String(cString: strerror(errno)))")
        }
        let spawned = spawn(stdin: toHelper[0], stdout: fromHelper[1])
        close(toHelper[0])
        close(fromHelper[1])
        defer { close(toHelper[1]); close(fromHelper[0]) }
        guard case .success(let pid) = spawned else {
            if case .failure(let reason) = spawned { return .failure(.helperFailed, reason) }
            return .failure(.helperFailed, "spawn failed")
        }
        let channel = FrameChannel(readFD: fromHelper[0], writeFD: toHelper[1])
        let deadline = ContinuousClock.now + authenticator.timeout
        let outcome = converse(over: channel, deadline: deadline)
        // A helper that answered exits by itself (letting its modules clean up); one that did not, or does
        // not exit in time, is killed with everything its modules started.
        if !(outcome.answered && channel.awaitClose(deadline: deadline)) {
            ProcessTree.terminate(root: pid)
        }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return outcome.outcome
    }

    /// `answered`: the helper sent its result (as opposed to dying, hanging or breaking the protocol).
    private func converse(over channel: FrameChannel, deadline: ContinuousClock.Instant) -> (outcome: PAMOutcome, answered: Bool) {
        var messages: [PAMMessage] = []
        do {
            let start = try JSONEncoder().encode(request)
            try channel.send(.start, Array(start))
            while true {
                let (type, payload) = try channel.receive(deadline: deadline)
                switch type {
                case .prompt, .message:
                    guard let style = payload.first.flatMap(PAMMessageStyle.init(rawValue:)) else {
                        return (.failure(.helperFailed, "protocol error: a message without a style", messages: messages), false)
                    }
                    let message = PAMMessage(style: style, text: String(decoding: payload.dropFirst(), as: UTF8.self))
                    guard type == .prompt else {
                        messages.append(message)
                        continue
                    }
                    if let secret = responder.answer(message) {
                        try secret.withUnsafeBytes { try channel.send(.answer, $0) }
                    } else {
                        try channel.send(.noAnswer, [])
                    }
                case .result:
                    guard let result = try? JSONDecoder().decode(HelperResult.self, from: Data(payload)) else {
                        return (.failure(.helperFailed, "protocol error: unreadable result", messages: messages), false)
                    }
                    return (Self.outcome(result, messages: messages), true)
                case .start, .answer, .noAnswer:
                    return (.failure(.helperFailed, "protocol error: unexpected frame from the helper", messages: messages), false)
                }
            }
        } catch FrameError.timedOut {
            return (.failure(.helperFailed, "the PAM helper did not finish within \(authenticator.timeout) and was killed", messages: messages), false)
        } catch FrameError.closed {
            return (.failure(.helperFailed, "the PAM helper exited without a result", messages: messages), false)
        } catch {
            return (.failure(.helperFailed, "protocol error: \(error)", messages: messages), false)
        }
    }

    static func outcome(_ result: HelperResult, messages: [PAMMessage]) -> PAMOutcome {
        let delay = Duration.microseconds(Int64(result.failDelayMicroseconds))
        let detail = "\(result.stage.rawValue): \(result.detail) (PAM status \(result.status))"
        let verdict: PAMOutcome.Verdict
        if result.status == 0 {
            verdict = result.userChanged ? .authenticationFailed : .success
        } else {
            verdict = result.stage == .account ? .accountRefused : .authenticationFailed
        }
        let explained = result.status == 0 && result.userChanged ? "a PAM module changed the user name; refused" : detail
        return PAMOutcome(verdict: verdict, detail: explained, messages: messages, failDelay: delay)
    }

    private enum Spawned {
        case success(pid_t)
        case failure(String)
    }

    private func spawn(stdin: Int32, stdout: Int32) -> Spawned {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        // No descriptor but the pipe: not the daemon's sockets, not its audit log.
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
        // Its own process group: the caller's terminal signals (Ctrl-C) are not its, and a group kill reaches it all.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let arguments = [authenticator.helperExecutable, PAMAuthenticator.helperSubcommand]
        let environment = authenticator.environment.map { "\($0.key)=\($0.value)" }
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, authenticator.helperExecutable, &actions, &attributes, &argv, &envp)
        guard status == 0 else {
            return .failure("cannot start the PAM helper \(authenticator.helperExecutable): \(String(cString: strerror(status)))")
        }
        return .success(pid)
    }
}
