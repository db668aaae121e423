#if canImport(Glibc)
import Glibc
#endif

/// consolegate-pam --service NAME [--service NAME]... --timeout SECONDS --max-concurrent N, with the control
/// socket on stdin. Started by `consolegate serve` and `consolegate authenticate`, never by hand.
func options(_ name: String) -> [String] {
    let arguments = CommandLine.arguments
    return arguments.indices.dropLast().filter { arguments[$0] == name }.map { arguments[$0 + 1] }
}

func option(_ name: String) -> String? {
    options(name).first
}

let services = Set(options("--service"))
guard !services.isEmpty, services.allSatisfy({ !$0.isEmpty && !$0.contains("/") }),
      let timeout = option("--timeout").flatMap(Int.init), (1...600).contains(timeout),
      let maxConcurrent = option("--max-concurrent").flatMap(Int.init), (1...1024).contains(maxConcurrent)
else {
    Log.fatal("usage: consolegate-pam --service NAME [--service NAME]... --timeout SECONDS --max-concurrent N (control socket on stdin; started by consolegate)")
}
var monitor = Monitor(services: services, timeout: .seconds(timeout), maxConcurrent: maxConcurrent, control: STDIN_FILENO)
monitor.run()
