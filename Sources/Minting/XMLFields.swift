import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The text of each element in an AWS Query (XML) response, by slash-joined path without the root,
/// e.g. `AssumeRoleResult/Credentials/AccessKeyId` or `Error/Code`. First occurrence wins.
struct XMLFields {
    private(set) var values: [String: String] = [:]

    init?(_ data: [UInt8]) {
        // AWS answers in UTF-8. libxml2 passes names with invalid UTF-8 bytes on to FoundationXML, which traps
        // on them (found by fuzzing: `<R><\xC8></R>`), so such a response is refused before it is parsed.
        guard String(validating: data, as: UTF8.self) != nil else { return nil }
        let collector = Collector()
        let parser = XMLParser(data: Data(data))
        parser.delegate = collector
        guard parser.parse() else { return nil }
        values = collector.values
    }

    subscript(path: String) -> String? { values[path] }

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
