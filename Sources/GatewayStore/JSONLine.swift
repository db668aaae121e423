/// What every JSON line we write (audit trail, logs) goes through: JSON allows U+2028, U+2029 and the C1
/// controls raw inside strings, but common JSON-lines readers (JavaScript's, and anything splitting on
/// Unicode line breaks; NEL is U+0085) split a record there. They can only occur inside strings, where
/// `\uXXXX` means the same character, so they are escaped byte-wise.
public enum JSONLine {
    public static func escapingLineBreakers<Bytes: Sequence<UInt8>>(_ json: Bytes) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(json.underestimatedCount + 16)
        var pending: [UInt8] = []
        let hex = Array("0123456789abcdef".utf8)
        func escape(_ scalar: UInt32) {
            out += Array("\\u".utf8) + [12, 8, 4, 0].map { hex[Int(scalar >> UInt32($0) & 0xF)] }
        }
        for byte in json {
            pending.append(byte)
            switch pending.count {
            case 1 where byte == 0xC2 || byte == 0xE2:
                continue
            case 2 where pending[0] == 0xC2 && (0x80...0x9F).contains(byte):
                escape(UInt32(byte))  // U+0080–U+009F, encoded C2 80–C2 9F
            case 2 where pending[0] == 0xE2 && byte == 0x80:
                continue
            case 3 where byte == 0xA8 || byte == 0xA9:
                escape(0x2028 + UInt32(byte - 0xA8))  // E2 80 A8 = U+2028, E2 80 A9 = U+2029
            default:
                out += pending
            }
            pending.removeAll(keepingCapacity: true)
        }
        return out + pending
    }
}
