#if canImport(Glibc)
import Glibc
#endif

/// The framed protocol between the daemon and a PAM worker, over one socket per transaction: one type
/// byte, a 4-byte big-endian length, the payload.
///
///     daemon → worker: start (PAMRequest), then one answer or refusal per prompt
///     worker → daemon: prompt / message (style byte + text) …, then result (WorkerResult)
///     monitor → daemon: busy, instead of a worker, when `--max-concurrent` workers are running
public enum Frame: UInt8, Sendable {
    case start = 0x53       // S
    case answer = 0x41      // A
    case noAnswer = 0x4E    // N
    case prompt = 0x50      // P
    case message = 0x4D     // M
    case result = 0x52      // R
    case busy = 0x42        // B

    /// Bounds every read: PAM texts and answers are at most 512 bytes, the start and result small.
    public static let maximumPayload = 16 * 1024
}

public enum FrameError: Error, Equatable {
    case closed
    case timedOut
    case malformed(String)
    case io(Int32)
}

/// Blocking frame I/O on a file descriptor, with an optional deadline for reads.
public struct FrameChannel: Sendable {
    public let readFD: Int32
    public let writeFD: Int32

    public init(readFD: Int32, writeFD: Int32) {
        self.readFD = readFD
        self.writeFD = writeFD
    }

    public func send(_ type: Frame, _ payload: UnsafeBufferPointer<UInt8>) throws {
        precondition(payload.count <= Frame.maximumPayload)
        var header: [UInt8] = [type.rawValue]
        withUnsafeBytes(of: UInt32(payload.count).bigEndian) { header.append(contentsOf: $0) }
        try header.withUnsafeBufferPointer { try writeAll($0) }
        try writeAll(payload)
    }

    public func send(_ type: Frame, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { try send(type, $0) }
    }

    /// Reads one frame; the payload buffer is the caller's to zero when it holds a secret.
    public func receive(deadline: ContinuousClock.Instant?) throws -> (Frame, [UInt8]) {
        let header = try readExactly(5, deadline: deadline)
        guard let type = Frame(rawValue: header[0]) else { throw FrameError.malformed("unknown frame type \(header[0])") }
        let length = Int(UInt32(header[1]) << 24 | UInt32(header[2]) << 16 | UInt32(header[3]) << 8 | UInt32(header[4]))
        guard length <= Frame.maximumPayload else { throw FrameError.malformed("frame of \(length) bytes") }
        return (type, try readExactly(length, deadline: deadline))
    }

    /// Waits until the other side has closed the pipe (the helper exited), or the deadline.
    public func awaitClose(deadline: ContinuousClock.Instant) -> Bool {
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
