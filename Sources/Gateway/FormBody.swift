/// `application/x-www-form-urlencoded` into `RequestFields` (like FlatJSON: passwords never become strings).
/// A name that appears twice is refused, as in JSON bodies.
enum FormBody {
    struct Malformed: Error {
        var reason: String
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> RequestFields {
        var fields = RequestFields()
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(decoding: decode(parts[0]), as: UTF8.self)
            guard fields.insert(name, .text(parts.count > 1 ? decode(parts[1]) : [])) else {
                fields.wipe()
                throw Malformed(reason: "\(name) appears twice")
            }
        }
        return fields
    }

    private static func decode(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < text.endIndex, let high = hex(text[index + 1]), let low = hex(text[index + 2]) {
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
