/// The options a user may pass through `ssh gateway url --role R --destination D --format F`: the SSH
/// client's command line (SSH_ORIGINAL_COMMAND), which is the user's to choose and so is untrusted. Only
/// these three options, optionally after the word `url`, each once; anything else is refused.
struct SSHOriginalCommand: Equatable {
    var role: String?
    var destination: String?
    var format: String?

    struct Refused: Error {}

    /// Longer than any real request: a bound on what gets parsed at all.
    static let maximumLength = 8192

    init(parsing command: String) throws {
        guard command.utf8.count <= Self.maximumLength else { throw Refused() }
        var words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        if words.first == "url" { words.removeFirst() }
        while let word = words.popFirst() {
            let name: String
            let value: String
            if let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                value = String(word[word.index(after: equals)...])
            } else {
                guard let next = words.popFirst() else { throw Refused() }
                name = word
                value = next
            }
            switch name {
            case "--role" where role == nil: role = value
            case "--destination" where destination == nil: destination = value
            case "--format" where format == nil: format = value
            default: throw Refused()
            }
        }
    }
}
