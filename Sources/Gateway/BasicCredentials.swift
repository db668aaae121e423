import Secrets
/// `Authorization: Basic base64(user:password)` (RFC 7617), decoded straight into bytes so the password is
/// never a Swift String. Anything else — another scheme, bad base64, no colon — is nil.
struct BasicCredentials {
    var user: String
    var password: [UInt8]

    init?(header: String) {
        let utf8 = Array(header.utf8)
        let scheme = Array("basic ".utf8)
        guard utf8.count > scheme.count, zip(utf8, scheme).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) else { return nil }
        var encoded = utf8[scheme.count...]
        while encoded.first == UInt8(ascii: " ") { encoded = encoded.dropFirst() }
        while encoded.last == UInt8(ascii: " ") { encoded = encoded.dropLast() }
        guard let decoded = Self.base64(encoded) else { return nil }
        defer { wipe(storageOf: decoded) }
        guard let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        user = String(decoding: decoded[..<colon], as: UTF8.self)
        password = Array(decoded[decoded.index(after: colon)...])
    }

    /// Standard base64 with padding; nil for anything else.
    static func base64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var quad: UInt32 = 0
        var filled = 0
        var padding = 0
        for (offset, byte) in text.enumerated() {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "=") where offset >= text.count - 2:
                padding += 1
                value = 0
            default: return nil
            }
            // Padding only at the end: "=" followed by a data character is malformed.
            if padding > 0, byte != UInt8(ascii: "=") { return nil }
            quad = quad << 6 | value
            filled += 1
            if filled == 4 {
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                out.append(UInt8(truncatingIfNeeded: quad >> 8))
                out.append(UInt8(truncatingIfNeeded: quad))
                quad = 0
                filled = 0
            }
        }
        out.removeLast(padding)
        return out
    }
}
