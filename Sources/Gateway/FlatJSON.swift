#if canImport(Glibc)
import Glibc
#endif

/// Reads a flat JSON object of string (or null, or boolean) values into byte buffers, so that passwords never
/// become Swift strings that cannot be wiped. Booleans become "true"/"false". Anything nested, numeric or
/// malformed is refused.
enum FlatJSON {
    struct Malformed: Error {
        var reason: String
    }

    static func parseObject(_ bytes: UnsafeBufferPointer<UInt8>) throws -> [String: [UInt8]] {
        var reader = Reader(bytes: bytes)
        var object: [String: [UInt8]] = [:]
        reader.skipSpace()
        try reader.expect(UInt8(ascii: "{"))
        reader.skipSpace()
        if reader.peek() == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            while true {
                reader.skipSpace()
                let key = String(decoding: try reader.string(), as: UTF8.self)
                reader.skipSpace()
                try reader.expect(UInt8(ascii: ":"))
                reader.skipSpace()
                if reader.consume("null") {
                    object[key] = nil
                } else if reader.consume("true") {
                    object[key] = Array("true".utf8)
                } else if reader.consume("false") {
                    object[key] = Array("false".utf8)
                } else {
                    guard object[key] == nil else { throw Malformed(reason: "\"\(key)\" appears twice") }
                    object[key] = try reader.string()
                }
                reader.skipSpace()
                if reader.peek() == UInt8(ascii: ",") { reader.index += 1; continue }
                try reader.expect(UInt8(ascii: "}"))
                break
            }
        }
        reader.skipSpace()
        guard reader.index == bytes.count else { throw Malformed(reason: "text after the object") }
        return object
    }

    /// Overwrites every value, for when the secrets have been taken out.
    static func wipe(_ object: inout [String: [UInt8]]) {
        for key in object.keys {
            object[key]?.withUnsafeMutableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } }
        }
        object.removeAll()
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws {
            guard peek() == byte else { throw Malformed(reason: "expected '\(Character(Unicode.Scalar(byte)))'") }
            index += 1
        }

        mutating func consume(_ word: String) -> Bool {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
            index += expected.count
            return true
        }

        mutating func string() throws -> [UInt8] {
            guard peek() == UInt8(ascii: "\"") else { throw Malformed(reason: "values must be strings") }
            index += 1
            var out: [UInt8] = []
            while let byte = peek() {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return out
                case UInt8(ascii: "\\"):
                    guard let escaped = peek() else { break }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                    default: throw Malformed(reason: "bad escape")
                    }
                case 0..<0x20:
                    throw Malformed(reason: "control character in a string")
                default:
                    out.append(byte)
                }
            }
            throw Malformed(reason: "unterminated string")
        }

        private mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw Malformed(reason: "bad \\u escape")
            }
            index += 4
            return value
        }

        private mutating func unicodeEscape() throws -> [UInt8] {
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard consume("\\u") else { throw Malformed(reason: "lone surrogate") }
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw Malformed(reason: "lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw Malformed(reason: "bad \\u escape") }
            return Array(String(Character(unicode)).utf8)
        }
    }
}
