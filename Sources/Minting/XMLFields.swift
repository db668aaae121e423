import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The text of each element in an AWS Query (XML) response, by slash-joined path without the root,
/// e.g. `AssumeRoleResult/Credentials/AccessKeyId` or `Error/Code`. First occurrence wins.
struct XMLFields {
    private(set) var values: [String: String] = [:]

    init?(_ data: [UInt8]) {
        guard Self.isPlainResponse(data) else { return nil }
        let collector = Collector()
        let parser = XMLParser(data: Data(data))
        parser.delegate = collector
        guard parser.parse() else { return nil }
        values = collector.values
    }

    subscript(path: String) -> String? { values[path] }

    /// `#123;` or `#x1F;` (after the `&`).
    private static func isCharacterReference(_ text: ArraySlice<UInt8>) -> Bool {
        guard text.first == UInt8(ascii: "#") else { return false }
        var digits = text.dropFirst()
        let hex = digits.first == UInt8(ascii: "x")
        if hex { digits = digits.dropFirst() }
        let body = digits.prefix { $0 != UInt8(ascii: ";") }
        guard !body.isEmpty, body.count <= 8, body.count < digits.count else { return false }
        return body.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || (hex && ((UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)))
        }
    }

    /// What an AWS Query response is: UTF-8, no processing instruction but a leading XML declaration, no DTD,
    /// no entity but XML's five and character references. Anything else is refused before FoundationXML sees
    /// it. Fuzzing found it trapping on names that are not UTF-8 (`<R><\xC8></R>`), crashing on a processing
    /// instruction without data (`<R><?pi?></R>`), and leaking 72 bytes for every parse error, such as each
    /// undefined entity; a DTD could declare entities (expansion bombs, external entities).
    static func isPlainResponse(_ data: [UInt8]) -> Bool {
        guard String(validating: data, as: UTF8.self) != nil else { return false }
        let declaration = Array("<?xml ".utf8)
        let entities = ["amp;", "lt;", "gt;", "quot;", "apos;"].map { Array($0.utf8) }
        for index in data.indices where data[index] == UInt8(ascii: "&") {
            let rest = data[(index + 1)...]
            guard entities.contains(where: { rest.starts(with: $0) }) || isCharacterReference(rest) else { return false }
        }
        for index in data.indices.dropLast() where data[index] == UInt8(ascii: "<") {
            switch data[index + 1] {
            case UInt8(ascii: "?") where !(index == 0 && data.starts(with: declaration)):
                return false
            case UInt8(ascii: "!") where data[(index + 2)...].starts(with: Array("DOCTYPE".utf8)) || data[(index + 2)...].starts(with: Array("ENTITY".utf8)):
                return false
            default:
                continue
            }
        }
        return true
    }

    /// The value at the first path that ends with `suffix` (responses differ only in their result element).
    func first(endingWith suffix: String) -> String? {
        values.first { $0.key == suffix || $0.key.hasSuffix("/" + suffix) }?.value
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var stack: [String] = []
        var text = ""
        var values: [String: String] = [:]

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            stack.append(name)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let path = stack.dropFirst().joined(separator: "/")
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !path.isEmpty, !trimmed.isEmpty, values[path] == nil { values[path] = trimmed }
            stack.removeLast()
            text = ""
        }
    }
}
