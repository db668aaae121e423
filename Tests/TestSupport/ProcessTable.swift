import Foundation

/// Every process's parent and command name, from /proc/PID/stat: for tests that look for children left behind.
public enum ProcessTable {
    public static func parents() -> [Int32: (parent: Int32, command: String)] {
        var result: [Int32: (parent: Int32, command: String)] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let parent = Int32(fields[1]) else { continue }
            result[pid] = (parent, String(stat[stat.index(after: open)..<close]))
        }
        return result
    }

    public static func children(of parent: Int32) -> [Int32] {
        parents().filter { $0.value.parent == parent }.map(\.key)
    }
}
