// libFuzzer target: FlatJSON.parseObject (the JSON login body, untrusted bytes from any HTTP client).
// Built by scripts/fuzz.sh together with Sources/Gateway/FlatJSON.swift and RequestFields.swift.
//
// Besides "no crash", every accepted input is checked against Foundation's JSONSerialization (a
// differential oracle): Foundation must accept it too, with the same keys and the same string/bool values,
// and every value must read back consistently through the typed accessors; wipe() must zero every
// secret and leave no field behind. A violated invariant traps (fatalError), which libFuzzer reports.
import Foundation

/// The input as Foundation should see it. swift-corelibs-foundation's JSONSerialization drops a raw U+FEFF
/// (EF BB BF) at the start of every unescaped run inside a string (it decodes each run with
/// String(bytes:encoding:.utf8), which strips a byte-order mark), so `{"\u{FEFF}k":"v"}` comes back with the
/// key "k". RFC 8259 makes U+FEFF an ordinary character inside a string, as FlatJSON keeps it; writing each
/// raw U+FEFF as the escape `\ufeff` (which Foundation keeps) means the same inside a string and is just as
/// invalid outside one, so it removes exactly this difference. (A raw U+FEFF right after an unescaped backslash
/// stays: a bad escape for both.)
func escapingByteOrderMarks(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var index = 0
    while index < bytes.count {
        if index + 2 < bytes.count, bytes[index] == 0xEF, bytes[index + 1] == 0xBB, bytes[index + 2] == 0xBF,
           out.reversed().prefix(while: { $0 == UInt8(ascii: "\\") }).count % 2 == 0 {
            out += Array("\\ufeff".utf8)
            index += 3
        } else {
            out.append(bytes[index])
            index += 1
        }
    }
    return out
}

private let booleanType = type(of: NSNumber(value: true))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    guard var fields = try? FlatJSON.parseObject(buffer) else { return 0 }

    guard let object = try? JSONSerialization.jsonObject(with: Data(escapingByteOrderMarks(Array(buffer))), options: []),
          let dictionary = object as? [String: Any] else {
        fatalError("FlatJSON accepted what JSONSerialization refuses: \(Array(buffer))")
    }
    var copies: [[UInt8]] = []
    for (key, value) in dictionary {
        guard fields.has(key) else { fatalError("key \(key.debugDescription) missing") }
        if let string = value as? String {
            guard let bytes = (try? fields.bytes(key)) ?? nil else { fatalError("bytes(\(key.debugDescription)) failed") }
            guard bytes == Array(string.utf8) else { fatalError("value of \(key.debugDescription) differs from Foundation") }
            guard let text = (try? fields.text(key)) ?? nil, text == string else { fatalError("text() inconsistent with bytes()") }
            // flag() on text: only "true"/"false" are accepted.
            let flag = try? fields.flag(key)
            switch bytes {
            case Array("true".utf8): guard flag == true else { fatalError("flag(\"true\")") }
            case Array("false".utf8): guard flag == false else { fatalError("flag(\"false\")") }
            default: guard flag == nil else { fatalError("flag() accepted text \(string.debugDescription)") }
            }
            copies.append(bytes)
        } else if let number = value as? NSNumber, type(of: number) == booleanType {
            // (`as? Bool` would also take the numbers 0 and 1: Foundation returns NSNumber for both kinds.)
            let bool = number.boolValue
            guard (try? fields.flag(key)) == bool else { fatalError("flag(\(key.debugDescription)) differs from Foundation") }
            guard (try? fields.bytes(key)) == nil, (try? fields.text(key)) == nil else {
                fatalError("a boolean read as text: \(key.debugDescription)")
            }
        } else {
            fatalError("FlatJSON accepted a non-string, non-bool value for \(key.debugDescription): \(value)")
        }
    }
    // Re-serialize with Foundation and parse again: the same fields must come back.
    if let again = try? JSONSerialization.data(withJSONObject: dictionary, options: [.sortedKeys]) {
        var reparsed = again.withUnsafeBytes { raw in
            try? FlatJSON.parseObject(raw.bindMemory(to: UInt8.self))
        }
        guard reparsed != nil else { fatalError("re-serialized object refused: \(String(decoding: again, as: UTF8.self))") }
        for key in dictionary.keys {
            guard (try? reparsed!.bytes(key)) == (try? fields.bytes(key)),
                  (try? reparsed!.flag(key)) == (try? fields.flag(key)) else {
                fatalError("re-parse differs for \(key.debugDescription)")
            }
        }
        reparsed!.wipe()
    }

    fields.wipe()
    for key in dictionary.keys where fields.has(key) { fatalError("wipe() left \(key.debugDescription)") }
    for copy in copies where copy.contains(where: { $0 != 0 }) { fatalError("wipe() left a secret's bytes") }
    return 0
}
