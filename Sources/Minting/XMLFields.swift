import Foundation

/// The text of each element in an AWS Query (XML) response, by slash-joined path without the root,
/// e.g. `AssumeRoleResult/Credentials/AccessKeyId` or `Error/Code`. First occurrence wins.
///
/// Its own small reader for what an AWS response is, not a general XML parser: UTF-8, an optional leading
/// XML declaration, elements with attributes, text with XML's five entities and character references.
/// Anything else — DTDs, processing instructions, comments, CDATA, other entities, a mismatched tag — is
/// refused. (FoundationXML, used before, trapped on names that are not UTF-8, crashed on a processing
/// instruction without data and leaked memory for every parse error: all found by fuzzing.)
struct XMLFields {
    private(set) var values: [String: String] = [:]

    /// Far above any STS response (a few KB), and a bound on nesting.
    static let maximumSize = 1 << 20
    static let maximumDepth = 64

    init?(_ data: [UInt8]) {
        guard data.count <= Self.maximumSize, String(validating: data, as: UTF8.self) != nil else { return nil }
        var reader = Reader(bytes: data)
        guard let values = reader.document() else { return nil }
        self.values = values
    }

    subscript(path: String) -> String? { values[path] }

    /// The value at the first path that ends with `suffix` (responses differ only in their result element).
    func first(endingWith suffix: String) -> String? {
        values.first { $0.key == suffix || $0.key.hasSuffix("/" + suffix) }?.value
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var stack: [String] = []
        var text: [UInt8] = []
        var values: [String: String] = [:]

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        func peek(_ offset: Int = 0) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

        mutating func skipSpace() {
            while let byte = peek(), isSpace(byte) { index += 1 }
        }

        mutating func consume(_ word: String) -> Bool {
            let expected = Array(word.utf8)
            guard bytes[index...].starts(with: expected) else { return false }
            index += expected.count
            return true
        }

        mutating func document() -> [String: String]? {
            if consume("<?xml ") {
                guard let end = find("?>") else { return nil }
                index = end + 2
            }
            skipSpace()
            guard peek() == UInt8(ascii: "<") else { return nil }
            var sawRoot = false
            while index < bytes.count {
                if peek() == UInt8(ascii: "<") {
                    guard element() else { return nil }
                    sawRoot = true
                    if stack.isEmpty {
                        skipSpace()
                        return index == bytes.count ? values : nil
                    }
                } else {
                    guard !stack.isEmpty, characters() else { return nil }
                }
            }
            return sawRoot && stack.isEmpty ? values : nil
        }

        /// A start tag, an empty-element tag or an end tag, at `<`.
        mutating func element() -> Bool {
            index += 1
            if peek() == UInt8(ascii: "/") {
                index += 1
                guard let name = name(), name == stack.last else { return false }
                skipSpace()
                guard consume(">") else { return false }
                let path = stack.dropFirst().joined(separator: "/")
                let trimmed = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !path.isEmpty, !trimmed.isEmpty, values[path] == nil { values[path] = trimmed }
                stack.removeLast()
                text = []
                return true
            }
            guard let name = name(), stack.count < XMLFields.maximumDepth else { return false }
            while true {
                let hadSpace = peek().map(isSpace) ?? false
                skipSpace()
                if consume("/>") {
                    // An empty element: nothing to record, but the text so far belonged to its parent's start.
                    text = []
                    return true
                }
                if consume(">") {
                    stack.append(name)
                    text = []
                    return true
                }
                guard hadSpace, attribute() else { return false }
            }
        }

        /// `name="value"` or `name='value'`; the value is read and dropped (AWS puts only xmlns there).
        mutating func attribute() -> Bool {
            guard name() != nil else { return false }
            skipSpace()
            guard consume("=") else { return false }
            skipSpace()
            guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else { return false }
            index += 1
            while let byte = peek(), byte != quote {
                guard byte != UInt8(ascii: "<") else { return false }
                if byte == UInt8(ascii: "&") {
                    guard entity() != nil else { return false }
                } else {
                    index += 1
                }
            }
            guard peek() == quote else { return false }
            index += 1
            return true
        }

        /// ASCII names, as AWS uses: a letter, `_` or `:` first, then letters, digits, `_`, `:`, `.`, `-`.
        mutating func name() -> String? {
            let start = index
            while let byte = peek() {
                let isLetter = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
                let isOther = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                guard isLetter || (index > start && isOther) else { break }
                index += 1
            }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }

        /// Text up to the next `<`, entities decoded.
        mutating func characters() -> Bool {
            while let byte = peek(), byte != UInt8(ascii: "<") {
                if byte == UInt8(ascii: "&") {
                    guard let decoded = entity() else { return false }
                    text += decoded
                } else {
                    text.append(byte)
                    index += 1
                }
            }
            return true
        }

        /// `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#65;` `&#x41;`, at `&`.
        mutating func entity() -> [UInt8]? {
            for (name, character) in [("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'")] where consume(name) {
                return Array(character.utf8)
            }
            guard consume("&#") else { return nil }
            let hex = consume("x")
            let start = index
            while let byte = peek(), byte != UInt8(ascii: ";"), index - start < 8 { index += 1 }
            guard peek() == UInt8(ascii: ";"), index > start,
                  let value = UInt32(String(decoding: bytes[start..<index], as: UTF8.self), radix: hex ? 16 : 10),
                  value != 0, let scalar = Unicode.Scalar(value) else { return nil }
            index += 1
            return Array(String(Character(scalar)).utf8)
        }

        func find(_ word: String) -> Int? {
            let pattern = Array(word.utf8)
            guard index + pattern.count <= bytes.count else { return nil }
            return (index...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
        }
    }
}
