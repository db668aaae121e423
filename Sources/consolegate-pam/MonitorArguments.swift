#if canImport(Glibc)
import Glibc
#endif

/// consolegate-pam --service NAME [--service NAME]... --timeout SECONDS --max-concurrent N, with the control
/// socket on stdin. Started by `consolegate serve` and `consolegate authenticate`, never by hand.
/// Read from argv with libc, like the rest of the monitor's own loop: Swift's String, Set and integer parsing
/// would each bring a share of the standard library into the monitor's resident set (scripts/bench.sh). The
/// worker, a forked child, turns the service names into Strings.
struct MonitorArguments {
    /// The base service and the step-up services of the access rules, no other, as their places in argv,
    /// whose strings live as long as the process. Places, not pointers: an array of Int needs no type
    /// metadata built at run time.
    let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let serviceIndices: [Int]
    let timeoutSeconds: Int
    let maxConcurrent: Int

    init?(_ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, count: Int) {
        var serviceIndices: [Int] = []
        var timeout: Int?
        var maxConcurrent: Int?
        for index in 1..<max(count - 1, 1) {
            guard let name = argv[index], let value = argv[index + 1] else { return nil }
            if strcmp(name, "--service") == 0 {
                guard value[0] != 0, strchr(value, Int32(UInt8(ascii: "/"))) == nil else { return nil }
                serviceIndices.append(index + 1)
            } else if strcmp(name, "--timeout") == 0, timeout == nil {
                timeout = Self.number(value)
            } else if strcmp(name, "--max-concurrent") == 0, maxConcurrent == nil {
                maxConcurrent = Self.number(value)
            }
        }
        guard !serviceIndices.isEmpty, let timeout, (1...600).contains(timeout),
              let maxConcurrent, (1...1024).contains(maxConcurrent)
        else { return nil }
        self.argv = argv
        self.serviceIndices = serviceIndices
        self.timeoutSeconds = timeout
        self.maxConcurrent = maxConcurrent
    }

    /// The service names, for the worker's check of a start frame.
    var serviceNames: Set<String> {
        Set(serviceIndices.map { String(cString: argv[$0]!) })
    }

    /// Decimal digits only, as a count of seconds or workers is written.
    private static func number(_ text: UnsafeMutablePointer<CChar>) -> Int? {
        guard isdigit(Int32(text[0])) != 0, strlen(text) <= 9 else { return nil }
        var end: UnsafeMutablePointer<CChar>?
        let value = strtol(text, &end, 10)
        guard let end, end.pointee == 0 else { return nil }
        return value
    }
}
