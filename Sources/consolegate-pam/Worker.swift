import CPAM
import PAMProtocol
#if canImport(Glibc)
import Glibc
#endif
import Secrets

/// One forked worker: runs one PAM transaction for the start frame on its socket, forwarding every
/// conversation message to the daemon. The only code in ConsoleGate that calls libpam. Every frame is checked:
/// a start frame that asks for another service, names no valid user or comes out of order is refused (and
/// logged), and PAM never runs for it.
enum Worker {
    /// The exit status: 0 once a result was sent (whatever it says); anything else is a refusal.
    static func run(channel: FrameChannel, services: Set<String>, deadline: ContinuousClock.Instant) -> Int32 {
        signal(SIGPIPE, SIG_DFL)
        guard let (type, payload) = try? channel.receive(deadline: deadline) else {
            Log.refused("no start frame")
            return 2
        }
        guard type == .start else {
            Log.refused("a \(type) frame before the start frame")
            return 2
        }
        guard let request = PAMRequest(decoding: payload) else {
            Log.refused("a malformed start frame (\(payload.count) bytes)")
            return 2
        }
        guard services.contains(request.service) else {
            Log.refused("PAM service \(request.service) asked for; this monitor serves \(services.sorted().joined(separator: ", ")) only")
            return 2
        }
        Transaction.channel = channel
        let result = Transaction.run(request)
        // Nothing a module started outlives the transaction.
        ProcessTree.killOwnDescendants()
        guard (try? channel.send(.result, result.encoded)) != nil else { return 3 }
        return 0
    }

    /// State for libpam's C callbacks; a worker runs exactly one transaction.
    enum Transaction {
        nonisolated(unsafe) static var channel: FrameChannel?
        nonisolated(unsafe) static var failDelayMicroseconds: UInt32 = 0

        static func run(_ request: PAMRequest) -> WorkerResult {
            var conversation = pam_conv(conv: converse, appdata_ptr: nil)
            var handle: OpaquePointer?
            var status = pam_start(request.service, request.user, &conversation, &handle)
            guard status == PAM_SUCCESS, let handle else {
                return WorkerResult(status: status, stage: .start, detail: "pam_start failed", failDelayMicroseconds: 0, userChanged: false)
            }
            var stage = WorkerResult.Stage.start
            var userChanged = false
            defer { pam_end(handle, status) }

            for (item, value) in [(PAM_RHOST, request.remoteHost), (PAM_TTY, request.tty), (PAM_RUSER, request.remoteUser)] {
                guard let value, status == PAM_SUCCESS else { continue }
                status = pam_set_item(handle, item, value)
            }
            // PAM then reports its fail delay to us instead of sleeping; the caller waits without a thread.
            if status == PAM_SUCCESS {
                status = pam_set_item(handle, PAM_FAIL_DELAY, unsafeBitCast(recordFailDelay, to: UnsafeRawPointer.self))
            }
            if status == PAM_SUCCESS, request.mode == .authenticate {
                stage = .authenticate
                status = pam_authenticate(handle, Int32(PAM_DISALLOW_NULL_AUTHTOK))
            }
            if status == PAM_SUCCESS {
                stage = .account
                status = pam_acct_mgmt(handle, Int32(PAM_DISALLOW_NULL_AUTHTOK))
            }
            if status == PAM_SUCCESS {
                var item: UnsafeRawPointer?
                let lookup = pam_get_item(handle, PAM_USER, &item)
                let finalUser = item.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
                userChanged = lookup != PAM_SUCCESS || finalUser != request.user
            }
            let detail = String(cString: pam_strerror(handle, status))
            return WorkerResult(status: status, stage: stage, detail: detail, failDelayMicroseconds: failDelayMicroseconds, userChanged: userChanged)
        }

        static let recordFailDelay: @convention(c) (Int32, UInt32, UnsafeMutableRawPointer?) -> Void = { _, microseconds, _ in
            Transaction.failDelayMicroseconds = max(Transaction.failDelayMicroseconds, microseconds)
        }

        /// libpam's conversation: prompts go to the caller and wait for its answer; texts are passed on.
        /// Anything the caller cannot answer fails the whole conversation (fail closed).
        static let converse: @convention(c) (
            Int32, UnsafeMutablePointer<UnsafePointer<pam_message>?>?,
            UnsafeMutablePointer<UnsafeMutablePointer<pam_response>?>?, UnsafeMutableRawPointer?
        ) -> Int32 = { count, messages, responses, _ in
            guard let channel = Transaction.channel, let messages, let responses,
                  count > 0, count <= PAM_MAX_NUM_MSG
            else { return PAM_CONV_ERR }
            guard let replies = calloc(Int(count), MemoryLayout<pam_response>.stride)?.assumingMemoryBound(to: pam_response.self) else {
                return PAM_BUF_ERR
            }
            for index in 0..<Int(count) {
                guard let message = messages[index], answer(message.pointee, into: &replies[index], channel: channel) else {
                    release(replies, count: Int(count))
                    return PAM_CONV_ERR
                }
            }
            responses.pointee = replies
            return PAM_SUCCESS
        }

        /// Fills one reply the way libpam frees it: a malloc'd, NUL-terminated string, or nothing.
        static func answer(_ message: pam_message, into reply: inout pam_response, channel: FrameChannel) -> Bool {
            guard let style = PAMMessageStyle(rawValue: UInt8(clamping: message.msg_style)) else { return false }
            var text = Array((message.msg.map { String(cString: $0) } ?? "").utf8.prefix(Int(PAM_MAX_MSG_SIZE)))
            text.insert(style.rawValue, at: 0)
            switch style {
            case .errorMessage, .textInfo:
                return (try? channel.send(.message, text)) != nil
            case .promptEchoOff, .promptEchoOn:
                guard (try? channel.send(.prompt, text)) != nil,
                      var (type, secret) = try? channel.receive(deadline: nil)
                else { return false }
                defer { wipe(&secret) }
                if type != .answer, type != .noAnswer { Log.refused("a \(type) frame where an answer belongs") }
                guard type == .answer, secret.count <= PAM_MAX_RESP_SIZE, !secret.contains(0),
                      let copy = malloc(secret.count + 1)?.assumingMemoryBound(to: CChar.self)
                else { return false }
                secret.withUnsafeBufferPointer { source in
                    source.withMemoryRebound(to: CChar.self) { copy.update(from: $0.baseAddress!, count: source.count) }
                }
                copy[secret.count] = 0
                reply.resp = copy
                reply.resp_retcode = 0
                return true
            }
        }

        static func release(_ replies: UnsafeMutablePointer<pam_response>, count: Int) {
            for index in 0..<count {
                if let text = replies[index].resp {
                    wipe(cString: text)
                    free(text)
                }
            }
            free(replies)
        }
    }
}
