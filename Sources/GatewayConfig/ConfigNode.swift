import Foundation
import Yams

/// A YAML mapping being read, which remembers the keys taken so leftovers can be refused as unknown.
struct ConfigMapping {
    let path: String
    private let pairs: [(key: String, value: Node)]
    private var taken: Set<String> = []

    init(_ node: Node?, path: String) throws {
        self.path = path
        guard let node else {
            pairs = []
            return
        }
        guard let mapping = node.mapping else {
            throw ConfigError(path: path, problem: "must be a mapping of keys to values")
        }
        var pairs: [(String, Node)] = []
        for (key, value) in mapping {
            guard let name = key.string else {
                throw ConfigError(path: path, problem: "keys must be strings")
            }
            if pairs.contains(where: { $0.0 == name }) {
                throw ConfigError(path: child(path, name), problem: "appears twice")
            }
            pairs.append((name, value))
        }
        self.pairs = pairs
    }

    func keyPath(_ key: String) -> String { child(path, key) }

    mutating func node(_ key: String) -> Node? {
        taken.insert(key)
        guard let value = pairs.first(where: { $0.key == key })?.value else { return nil }
        if case .scalar(let scalar) = value, scalar.tag.description == Tag.Name.null.rawValue || (scalar.string.isEmpty && scalar.style == .plain) {
            return nil
        }
        return value
    }

    mutating func string(_ key: String) throws -> String? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let scalar) = value else {
            throw ConfigError(path: keyPath(key), problem: "must be a single value, not a list or mapping")
        }
        return scalar.string
    }

    mutating func requiredString(_ key: String, allowed: String) throws -> String {
        guard let value = try string(key), !value.isEmpty else {
            throw ConfigError(path: keyPath(key), problem: "is required (\(allowed))")
        }
        return value
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let raw = try string(key) else { return fallback }
        switch raw.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigError(path: keyPath(key), problem: "\"\(raw)\" is not true or false")
        }
    }

    mutating func stringList(_ key: String) throws -> [String] {
        guard let value = node(key) else { return [] }
        guard case .sequence(let sequence) = value else {
            throw ConfigError(path: keyPath(key), problem: "must be a list, e.g. [alice, bob]")
        }
        return try sequence.enumerated().map { index, item in
            guard case .scalar(let scalar) = item, !scalar.string.isEmpty else {
                throw ConfigError(path: "\(keyPath(key))[\(index)]", problem: "must be a non-empty string")
            }
            return scalar.string
        }
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) throws -> T where T.RawValue == String {
        guard let raw = try string(key) else { return fallback }
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: " | ")
            throw ConfigError(path: keyPath(key), problem: "\"\(raw)\" is not one of: \(allowed)")
        }
        return value
    }

    mutating func duration(_ key: String, default fallback: Duration, range: ClosedRange<Duration>) throws -> Duration {
        try duration(key, range: range) ?? fallback
    }

    /// Seconds (`900`), or with units: `500ms`, `30s`, `15m`, `12h`, `1d`, `1h30m`.
    mutating func duration(_ key: String, range: ClosedRange<Duration>) throws -> Duration? {
        guard let raw = try string(key) else { return nil }
        guard let value = DurationText.parse(raw) else {
            throw ConfigError(path: keyPath(key), problem: "\"\(raw)\" is not a duration; write e.g. 900, 30s, 500ms, 15m, 12h or 1h30m")
        }
        guard range.contains(value) else {
            throw ConfigError(path: keyPath(key), problem: "\(raw) is outside \(DurationText.format(range.lowerBound))–\(DurationText.format(range.upperBound))")
        }
        return value
    }

    mutating func count(_ key: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = try string(key) else { return fallback }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigError(path: keyPath(key), problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// `host:port` (`[::1]:8080` for IPv6); port 0 asks the system for a free one.
    mutating func hostPort(_ key: String) throws -> HostPort? {
        guard let raw = try string(key) else { return nil }
        guard let colon = raw.lastIndex(of: ":"), let port = Int(raw[raw.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigError(path: keyPath(key), problem: "\"\(raw)\" is not host:port, e.g. 127.0.0.1:8080")
        }
        return HostPort(host: String(raw[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
    }

    mutating func url(_ key: String, schemes: Set<String> = ["https"]) throws -> URL? {
        guard let raw = try string(key) else { return nil }
        guard let url = URL(string: raw), let scheme = url.scheme?.lowercased(), schemes.contains(scheme), url.host != nil else {
            throw ConfigError(path: keyPath(key), problem: "\"\(raw)\" is not an absolute \(schemes.sorted().joined(separator: " or ")) URL")
        }
        return url
    }

    mutating func mapping(_ key: String) throws -> ConfigMapping {
        try ConfigMapping(node(key), path: keyPath(key))
    }

    func sequence(_ key: String, in node: Node?) throws -> [Node] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            throw ConfigError(path: keyPath(key), problem: "must be a list")
        }
        return Array(sequence)
    }

    /// Every key of this mapping, in file order (for free-form mappings such as session tags).
    var keysInOrder: [String] { pairs.map(\.key) }

    func isPresent(_ key: String) -> Bool {
        pairs.contains { $0.key == key }
    }

    /// Refuses every key that no reader asked for.
    func finish() throws {
        if let unknown = pairs.first(where: { !taken.contains($0.key) }) {
            let known = taken.sorted().joined(separator: ", ")
            throw ConfigError(path: keyPath(unknown.key), problem: "unknown key; allowed here: \(known)")
        }
    }
}

private func child(_ path: String, _ key: String) -> String {
    path.isEmpty ? key : "\(path).\(key)"
}

/// Durations as people write them in the config: `900`, `30s`, `15m`, `12h`, `1h30m`.
public enum DurationText {
    /// A duration in whole milliseconds, or nil: a plain number is seconds; units are ms, s, m, h and d.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = Array(text.trimmingCharacters(in: .whitespaces))
        if let plain = Int(String(trimmed)) { return plain >= 0 && plain <= Int.max / 1000 ? .seconds(plain) : nil }
        var milliseconds = 0
        var digits = ""
        var index = 0
        while index < trimmed.count {
            let character = trimmed[index]
            index += 1
            if character.isASCII, character.isNumber {
                digits.append(character)
                continue
            }
            let unit: Int
            switch character {
            case "m" where index < trimmed.count && trimmed[index] == "s":
                index += 1
                unit = 1
            case "s": unit = 1000
            case "m": unit = 60_000
            case "h": unit = 3_600_000
            case "d": unit = 86_400_000
            default: return nil
            }
            // A number too large for any range is not a duration (found by fuzzing: it used to overflow).
            guard let amount = Int(digits) else { return nil }
            let (part, overflowed) = amount.multipliedReportingOverflow(by: unit)
            let (sum, overflowedSum) = milliseconds.addingReportingOverflow(part)
            guard !overflowed, !overflowedSum else { return nil }
            milliseconds = sum
            digits = ""
        }
        return digits.isEmpty && !trimmed.isEmpty ? .milliseconds(milliseconds) : nil
    }

    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.wholeMilliseconds
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        if seconds % 3600 == 0, seconds > 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0, seconds > 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

extension Duration {
    /// Whole seconds, for the AWS parameters and HTTP headers that take them.
    public var wholeSeconds: Int { Int(components.seconds) }
    public var wholeMilliseconds: Int { Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000) }
}
