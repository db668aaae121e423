#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The framed protocol between a caller and its PAM helper process, over the helper's stdin and stdout:
/// one type byte, a 4-byte big-endian length, the payload.
///
///     caller → helper: start (JSON PAMRequest), then one answer or refusal per prompt
///     helper → caller: prompt / message (style byte + text) …, then result (JSON)
enum Frame: UInt8 {
    case start = 0x53       // S
    case answer = 0x41      // A
    case noAnswer = 0x4E    // N
    case prompt = 0x50      // P
    case message = 0x4D     // M
    case result = 0x52      // R

    /// Bounds every read: PAM texts and answers are at most 512 bytes, the start and result JSON small.
    static let maximumPayload = 16 * 1024
}

enum FrameError: Error, Equatable {
    case closed
    case timedOut
    case malformed(String)
    case io(Int32)
}

/// Blocking frame I/O on a file descriptor, with an optional deadline for reads.
struct FrameChannel {
    let readFD: Int32
    let writeFD: Int32

    func send(_ type: Frame, _ payload: UnsafeBufferPointer<UInt8>) throws {
        precondition(payload.count <= Frame.maximumPayload)
        var header: [UInt8] = [type.rawValue]
        withUnsafeBytes(of: UInt32(payload.count).bigEndian) { header.append(contentsOf: $0) }
        try header.withUnsafeBufferPointer { try writeAll($0) }
        try writeAll(payload)
    }

    func send(_ type: Frame, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { try send(type, $0) }
    }

    /// Reads one frame; the payload buffer is the caller's to zero when it holds a secret.
    func receive(deadline: ContinuousClock.Instant?) throws -> (Frame, [UInt8]) {
        let header = try readExactly(5, deadline: deadline)
        guard let type = Frame(rawValue: header[0]) else { throw FrameError.malformed("unknown frame type \(header[0])") }
        let length = Int(UInt32(header[1]) << 24 | UInt32(header[2]) << 16 | UInt32(header[3]) << 8 | UInt32(header[4]))
        guard length <= Frame.maximumPayload else { throw FrameError.malformed("frame of \(length) bytes") }
        return (type, try readExactly(length, deadline: deadline))
    }

    /// Waits until the other side has closed the pipe (the helper exited), or the deadline.
    func awaitClose(deadline: ContinuousClock.Instant) -> Bool {
        var scratch = [UInt8](repeating: 0, count: 64)
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            var descriptor = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1))
            if ready < 0, errno != EINTR { return false }
            guard ready > 0 else { continue }
            let got = read(readFD, &scratch, scratch.count)
            if got == 0 { return true }
            if got < 0, errno != EINTR, errno != EAGAIN { return false }
        }
    }

    private func writeAll(_ buffer: UnsafeBufferPointer<UInt8>) throws {
        var offset = 0
        while offset < buffer.count {
            let written = write(writeFD, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw errno == EPIPE ? FrameError.closed : FrameError.io(errno)
            }
            offset += written
        }
    }

    private func readExactly(_ count: Int, deadline: ContinuousClock.Instant?) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { throw FrameError.timedOut }
                var descriptor = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
                let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
                let ready = poll(&descriptor, 1, milliseconds)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw FrameError.io(errno)
                }
                if ready == 0 { continue }
            }
            let got = bytes.withUnsafeMutableBufferPointer { read(readFD, $0.baseAddress! + offset, count - offset) }
            if got < 0 {
                if errno == EINTR { continue }
                throw FrameError.io(errno)
            }
            if got == 0 { throw FrameError.closed }
            offset += got
        }
        return bytes
    }
}

/// What the helper is asked to do.
public struct PAMRequest: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable {
        /// pam_authenticate, then pam_acct_mgmt.
        case authenticate
        /// pam_acct_mgmt only: the caller is already known to be this user (SO_PEERCRED).
        case account
    }

    public var service: String
    public var user: String
    public var mode: Mode
    /// PAM_RHOST: the client's address.
    public var remoteHost: String?
    /// PAM_TTY: `http`, `ssh` or a real terminal.
    public var tty: String?
    /// PAM_RUSER where it applies (the local user asking on someone's behalf).
    public var remoteUser: String?

    public init(service: String, user: String, mode: Mode = .authenticate, remoteHost: String? = nil, tty: String? = nil, remoteUser: String? = nil) {
        self.service = service
        self.user = user
        self.mode = mode
        self.remoteHost = remoteHost
        self.tty = tty
        self.remoteUser = remoteUser
    }
}

/// The helper's final word.
struct HelperResult: Codable, Equatable {
    enum Stage: String, Codable {
        case start, authenticate, account
    }

    var status: Int32
    var stage: Stage
    var detail: String
    var failDelayMicroseconds: UInt32
    var userChanged: Bool
}

/// How PAM phrased a conversation message (PAM_PROMPT_ECHO_OFF and friends).
public enum PAMMessageStyle: UInt8, Sendable {
    case promptEchoOff = 1
    case promptEchoOn = 2
    case errorMessage = 3
    case textInfo = 4
}

public struct PAMMessage: Sendable, Equatable {
    public var style: PAMMessageStyle
    public var text: String
}
