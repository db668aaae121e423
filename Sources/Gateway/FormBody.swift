import AWSSigV4

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
        URIEncoding.decodeBytes(text, plusAsSpace: true)
    }
}
