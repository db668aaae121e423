#if canImport(Glibc)
import Glibc
#endif

/// What the monitor waits on, each with a deadline in `monotonicMilliseconds()`, in the order they came: its
/// workers (by pid) and the transactions waiting for one (by socket). Two arrays of Int kept in step rather
/// than one array of pairs: an array of a struct or a tuple has the Swift runtime build its type metadata from
/// a mangled name, with the demangler, in a process whose resident set is measured (scripts/bench.sh).
struct Deadlines {
    private(set) var keys: [Int] = []
    private var times: [Int] = []

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }
    /// The deadline of the one that came first.
    var firstTime: Int? { times.first }
    var earliest: Int? { times.min() }

    mutating func append(_ key: Int, until time: Int) {
        keys.append(key)
        times.append(time)
    }

    /// The one that came first, taken out.
    mutating func removeFirst() -> Int {
        times.removeFirst()
        return keys.removeFirst()
    }

    mutating func remove(_ key: Int) {
        guard let index = keys.firstIndex(of: key) else { return }
        keys.remove(at: index)
        times.remove(at: index)
    }

    /// One whose deadline has passed at `now`, if any.
    func overdue(at now: Int) -> Int? {
        times.firstIndex { $0 <= now }.map { keys[$0] }
    }
}

/// Milliseconds of CLOCK_MONOTONIC, which counts from an arbitrary start and never steps.
func monotonicMilliseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
}
