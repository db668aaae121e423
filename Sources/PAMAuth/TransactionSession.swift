import PAMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// One PAM transaction through the monitor: a socket to a fresh worker, the conversation over it, the
/// result. Runs on a thread of its own (blocking socket I/O).
struct TransactionSession {
    let authenticator: PAMAuthenticator
    let request: PAMRequest
    let responder: any PAMConversationResponder

    func run() -> PAMOutcome {
        guard let socket = authenticator.monitor.openTransaction() else {
            return .failure(.unavailable, "the PAM monitor has exited; no PAM ran")
        }
        // Closing our end ends the worker's conversation too, whatever state it is in; the monitor kills the
        // worker's process tree at the deadline.
        defer { close(socket) }
        let channel = FrameChannel(readFD: socket, writeFD: socket)
        let deadline = ContinuousClock.now + authenticator.timeout
        let outcome = converse(over: channel, deadline: deadline)
        // The transaction (and its slot) ends when the worker has: its socket closes as it exits.
        _ = channel.awaitClose(deadline: deadline)
        if outcome.verdict == .helperFailed, authenticator.monitor.hasExited {
            return .failure(.unavailable, "the PAM monitor exited during the transaction", messages: outcome.messages)
        }
        return outcome
    }

    private func converse(over channel: FrameChannel, deadline: ContinuousClock.Instant) -> PAMOutcome {
        var messages: [PAMMessage] = []
        do {
            try channel.send(.start, request.encoded)
            while true {
                let (type, payload) = try channel.receive(deadline: deadline)
                switch type {
                case .prompt, .message:
                    guard let style = payload.first.flatMap(PAMMessageStyle.init(rawValue:)) else {
                        return .failure(.helperFailed, "protocol error: a message without a style", messages: messages)
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
                    guard let result = WorkerResult(decoding: payload) else {
                        return .failure(.helperFailed, "protocol error: unreadable result", messages: messages)
                    }
                    return Self.outcome(result, messages: messages)
                case .busy:
                    return .failure(.busy, "the PAM monitor runs its maximum of workers; PAM not run")
                case .start, .answer, .noAnswer:
                    return .failure(.helperFailed, "protocol error: unexpected frame from the worker", messages: messages)
                }
            }
        } catch FrameError.timedOut {
            return .failure(.helperFailed, "the PAM worker did not finish within \(authenticator.timeout) and was killed", messages: messages)
        } catch FrameError.closed {
            return .failure(.helperFailed, "the PAM worker exited without a result", messages: messages)
        } catch {
            return .failure(.helperFailed, "protocol error: \(error)", messages: messages)
        }
    }

    static func outcome(_ result: WorkerResult, messages: [PAMMessage]) -> PAMOutcome {
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
}
