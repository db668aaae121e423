// libFuzzer target: SSHOriginalCommand (SSH_ORIGINAL_COMMAND, chosen by the SSH user).
// Built by scripts/fuzz.sh together with Sources/consolegate/SSHOriginalCommand.swift.
//
// Invariants: an accepted command fits the length bound, its values contain no separator, and writing
// the options back out as `url --name=value ...` parses to the same options (when the re-serialization
// splits into the intended words: Swift splits on Characters, so a value starting with a combining mark
// glues onto the `=` or the space before it, and such a command is refused, which is fine).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let command = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let parsed = try? SSHOriginalCommand(parsing: command) else { return 0 }
    guard command.utf8.count <= SSHOriginalCommand.maximumLength else { fatalError("accepted an over-long command") }
    var words = ["url"]
    for (name, value) in [("--role", parsed.role), ("--destination", parsed.destination), ("--format", parsed.format)] {
        guard let value else { continue }
        guard !value.contains(" "), !value.contains("\t") else { fatalError("a value contains a separator: \(value.debugDescription)") }
        words.append(name + "=" + value)
    }
    let serialized = words.joined(separator: " ")
    let resplit = serialized.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    guard resplit == words else { return 0 }
    let names = words.dropFirst().map { word -> String in
        guard let equals = word.firstIndex(of: "=") else { return "" }
        return String(word[..<equals])
    }
    guard names.allSatisfy({ ["--role", "--destination", "--format"].contains($0) }) else { return 0 }
    guard let again = try? SSHOriginalCommand(parsing: serialized) else { fatalError("re-serialized command refused: \(serialized.debugDescription)") }
    guard again == parsed else { fatalError("re-parse differs: \(serialized.debugDescription)") }
    return 0
}
