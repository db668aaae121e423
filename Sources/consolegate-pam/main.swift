#if canImport(Glibc)
import Glibc
#endif

/// consolegate-pam --service NAME --timeout SECONDS --max-concurrent N, with the control socket on stdin.
/// Started by `consolegate serve` and `consolegate authenticate`, never by hand.
func option(_ name: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

guard let service = option("--service"), !service.isEmpty, !service.contains("/"),
      let timeout = option("--timeout").flatMap(Int.init), (1...600).contains(timeout),
      let maxConcurrent = option("--max-concurrent").flatMap(Int.init), (1...1024).contains(maxConcurrent)
else {
    Log.fatal("usage: consolegate-pam --service NAME --timeout SECONDS --max-concurrent N (control socket on stdin; started by consolegate)")
}
var monitor = Monitor(service: service, timeout: .seconds(timeout), maxConcurrent: maxConcurrent, control: STDIN_FILENO)
monitor.run()
