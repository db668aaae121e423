// libFuzzer target: the PAM helper frame reader (FrameChannel.receive) and the JSON it carries. Both
// sides read frames from the other process: the helper reads the caller's start/answer frames, the
// caller reads the helper's prompt/message/result frames. Built by scripts/fuzz.sh together with
// Sources/PAMAuth/HelperProtocol.swift.
//
// The input is written into a pipe (at most -max_len bytes, below the pipe's capacity), the write end is
// closed, and frames are read until an error, decoding `start` payloads as PAMRequest and `result` payloads
// as HelperResult with JSONDecoder, as the real peers do. Each frame is also sent again through a second
// pipe and must come back identical.
import Foundation
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
        case .start: _ = try? JSONDecoder().decode(PAMRequest.self, from: Data(payload))
        case .result: _ = try? JSONDecoder().decode(HelperResult.self, from: Data(payload))
        case .prompt, .message: _ = payload.first.flatMap(PAMMessageStyle.init(rawValue:)); _ = String(decoding: payload.dropFirst(), as: UTF8.self)
        case .answer, .noAnswer: break
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
