// libFuzzer target: the PAM frame reader (FrameChannel.receive) and the messages it carries. Both sides read
// frames from the other process: a worker reads the daemon's start/answer frames, the daemon reads the
// worker's prompt/message/result frames (or the monitor's busy frame). Built by scripts/fuzz.sh together with
// Sources/PAMProtocol/*.swift (Glibc only, as in the root monitor).
//
// The input is written into a pipe (at most -max_len bytes, below the pipe's capacity), the write end is
// closed, and frames are read until an error; `start` payloads are decoded as PAMRequest and `result`
// payloads as WorkerResult, as the real peers do. Invariants: each payload is exactly the input's bytes, a
// frame sent again through a second pipe comes back identical, a decoded request re-encodes to exactly its
// payload and obeys the documented limits, a decoded result survives encode/decode.
#if canImport(Glibc)
import Glibc
#endif

private let pipeCapacity = 65536

private func makePipe() -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { fatalError("pipe: \(errno)") }
    return (fds[0], fds[1])
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size <= pipeCapacity - 1024 else { return 0 }   // run with -max_len below the pipe capacity
    let (inRead, inWrite) = makePipe()
    let (echoRead, echoWrite) = makePipe()
    defer { close(inRead); close(echoRead); close(echoWrite) }

    var written = 0
    while written < size {
        let n = write(inWrite, data + written, size - written)
        guard n > 0 else { fatalError("write: \(errno)") }
        written += n
    }
    close(inWrite)

    let channel = FrameChannel(readFD: inRead, writeFD: -1)
    let echo = FrameChannel(readFD: echoRead, writeFD: echoWrite)
    var consumed = 0
    while true {
        let frame: Frame
        let payload: [UInt8]
        do {
            (frame, payload) = try channel.receive(deadline: ContinuousClock.now + .seconds(5))
        } catch FrameError.closed {
            break
        } catch FrameError.malformed {
            break
        } catch {
            fatalError("unexpected receive error \(error)")
        }
        guard payload.count <= Frame.maximumPayload else { fatalError("payload over the bound") }
        consumed += 5 + payload.count
        guard consumed <= size else { fatalError("read more than was written") }
        guard Array(UnsafeBufferPointer(start: data + consumed - payload.count, count: payload.count)) == payload else {
            fatalError("payload differs from the input bytes")
        }
        switch frame {
        case .start:
            if let request = PAMRequest(decoding: payload) {
                guard request.encoded == payload else { fatalError("a decoded request does not re-encode to its payload") }
                guard !request.service.isEmpty, !request.user.isEmpty else { fatalError("empty service or user accepted") }
                for field in [request.service, request.user, request.remoteHost ?? "", request.tty ?? "", request.remoteUser ?? ""] {
                    guard field.utf8.count <= PAMRequest.maximumField else { fatalError("over-long field accepted") }
                    guard !field.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                        fatalError("control character accepted in \(field.debugDescription)")
                    }
                }
            }
        case .result:
            if let result = WorkerResult(decoding: payload) {
                guard WorkerResult(decoding: result.encoded) == result else { fatalError("a result does not round-trip") }
            }
        case .prompt, .message:
            _ = payload.first.flatMap(PAMMessageStyle.init(rawValue:))
            _ = String(decoding: payload.dropFirst(), as: UTF8.self)
        case .answer, .noAnswer, .busy:
            break
        }
        do {
            try echo.send(frame, payload)
            let (again, againPayload) = try echo.receive(deadline: nil)
            guard again == frame, againPayload == payload else { fatalError("frame does not round-trip") }
        } catch {
            fatalError("echo failed: \(error)")
        }
    }
    return 0
}
