import Foundation
import PAMAuth
#if canImport(Glibc)
import Glibc
#endif
import Secrets

/// Shows each PAM prompt to the person at the terminal, as PAM words it, and reads the answer from the
/// terminal itself (not stdin), without echo for secrets.
final class TerminalResponder: PAMConversationResponder, @unchecked Sendable {
    private let terminal: Int32

    init?() {
        terminal = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard terminal >= 0 else { return nil }
    }

    deinit { close(terminal) }

    var ttyName: String? {
        ttyname(terminal).map { String(cString: $0) }
    }

    func answer(_ prompt: PAMMessage) -> SecretBytes? {
        write(prompt.text)
        return readLine(echo: prompt.style == .promptEchoOn)
    }

    /// Asks one question outside PAM (e.g. `consolegate login`'s password prompt).
    func ask(_ question: String, echo: Bool) -> SecretBytes? {
        write(question)
        return readLine(echo: echo)
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = Glibc.write(terminal, &bytes, bytes.count)
    }

    private func readLine(echo: Bool) -> SecretBytes? {
        var saved = termios()
        let hasAttributes = tcgetattr(terminal, &saved) == 0
        if hasAttributes, !echo {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ECHONL)
            tcsetattr(terminal, TCSAFLUSH, &quiet)
        }
        defer { if hasAttributes, !echo { tcsetattr(terminal, TCSAFLUSH, &saved) } }
        // Room for the longest answer up front: growing would leave copies of it in freed memory.
        var line: [UInt8] = []
        line.reserveCapacity(SecretBytes.maximumLength + 1)
        var byte: UInt8 = 0
        while true {
            let got = read(terminal, &byte, 1)
            if got < 0, errno == EINTR { continue }
            if got <= 0 { return line.isEmpty ? nil : SecretBytes(consuming: &line) }
            if byte == UInt8(ascii: "\n") { break }
            if byte != UInt8(ascii: "\r") { line.append(byte) }
            if line.count > SecretBytes.maximumLength { break }
        }
        return SecretBytes(consuming: &line)
    }
}

/// Secrets read from a stream, one per line: the password, then a one-time code, …
enum SecretLines {
    static func read(from descriptor: Int32) -> [SecretBytes] {
        // Room for many secrets up front: growing would leave copies of them in freed memory.
        var all: [UInt8] = []
        all.reserveCapacity(16 * 1024)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = Glibc.read(descriptor, &chunk, chunk.count)
            if got < 0, errno == EINTR { continue }
            if got <= 0 { break }
            all.append(contentsOf: chunk[0..<got])
        }
        wipe(&chunk)
        defer { wipe(&all) }
        var secrets: [SecretBytes] = []
        for line in all.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let trimmed = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
            secrets.append(SecretBytes(copying: trimmed))
        }
        if all.last == UInt8(ascii: "\n") { secrets.removeLast() }
        return secrets
    }
}
