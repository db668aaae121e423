import Secrets
#if canImport(Glibc)
import Glibc
#endif

/// Reads a flat JSON object of string or boolean values into `RequestFields`, so that passwords never become
/// Swift strings that cannot be wiped. Strict: null, numbers, nesting, duplicate keys (of any type) and
/// anything after the object are refused.
enum FlatJSON {
    struct Malformed: Error {
        var reason: String
    }

    static func parseObject(_ bytes: UnsafeBufferPointer<UInt8>) throws -> RequestFields {
        var reader = Reader(bytes: bytes)
        var fields = RequestFields()
        do {
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
                    let value: RequestFields.Value
                    if reader.consume("true") {
                        value = .flag(true)
                    } else if reader.consume("false") {
                        value = .flag(false)
                    } else if reader.peek() == UInt8(ascii: "\"") {
                        value = .text(try reader.string())
                    } else {
                        throw Malformed(reason: "\"\(key)\" must be a string")
                    }
                    guard fields.insert(key, value) else { throw Malformed(reason: "\"\(key)\" appears twice") }
                    reader.skipSpace()
                    if reader.peek() == UInt8(ascii: ",") { reader.index += 1; continue }
                    try reader.expect(UInt8(ascii: "}"))
                    break
                }
            }
            reader.skipSpace()
            guard reader.index == bytes.count else { throw Malformed(reason: "text after the object") }
        } catch {
            fields.wipe()
            throw error
        }
        return fields
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

        mutating func consume(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// A string's bytes; the partial value is wiped when the string turns out malformed.
        mutating func string() throws -> [UInt8] {
            guard peek() == UInt8(ascii: "\"") else { throw Malformed(reason: "expected a string") }
            index += 1
            var out: [UInt8] = []
            // Room for the longest possible value up front: a reallocation would leave a copy of a secret behind.
            out.reserveCapacity(bytes.count - index)
            do {
                while let byte = peek() {
                    index += 1
                    switch byte {
                    case UInt8(ascii: "\""):
                        return try validUTF8(out)
                    case UInt8(ascii: "\\"):
                        guard let escaped = peek() else { throw Malformed(reason: "unterminated string") }
                        index += 1
                        switch escaped {
                        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                        case UInt8(ascii: "b"): out.append(0x08)
                        case UInt8(ascii: "f"): out.append(0x0C)
                        case UInt8(ascii: "n"): out.append(0x0A)
                        case UInt8(ascii: "r"): out.append(0x0D)
                        case UInt8(ascii: "t"): out.append(0x09)
                        case UInt8(ascii: "u"): try appendUnicodeEscape(to: &out)
                        default: throw Malformed(reason: "bad escape")
                        }
                    case 0..<0x20:
                        throw Malformed(reason: "control character in a string")
                    default:
                        out.append(byte)
                    }
                }
                throw Malformed(reason: "unterminated string")
            } catch {
                wipe(&out)
                throw error
            }
        }

        /// JSON text is UTF-8 (RFC 8259); other bytes would turn into U+FFFD when a name is read as a String.
        private func validUTF8(_ bytes: [UInt8]) throws -> [UInt8] {
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue: continue
                case .emptyInput: return bytes
                case .error: throw Malformed(reason: "a string is not UTF-8")
                }
            }
        }

        private mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw Malformed(reason: "bad \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Malformed(reason: "bad \\u escape")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        private mutating func appendUnicodeEscape(to out: inout [UInt8]) throws {
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard consume("\\u") else { throw Malformed(reason: "lone surrogate") }
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw Malformed(reason: "lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw Malformed(reason: "lone surrogate") }
            UTF8.encode(unicode) { out.append($0) }
        }
    }
}
