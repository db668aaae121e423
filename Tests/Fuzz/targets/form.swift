// libFuzzer target: FormBody.parse (application/x-www-form-urlencoded login bodies from any HTTP client).
// Built by scripts/fuzz.sh together with Sources/Gateway/FormBody.swift and RequestFields.swift.
//
// Invariants, against a small independent reference decoder: the parse is refused exactly when a name
// (compared as a Swift String) appears twice; otherwise every pair's value reads back with the reference
// decoding, and wipe() zeroes every value and leaves no field.
import Foundation

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte - 0x30
    case 0x41...0x46: return byte - 0x41 + 10
    case 0x61...0x66: return byte - 0x61 + 10
    default: return nil
    }
}

/// `+` is a space, `%` plus two hex digits a byte, anything else (including a stray `%`) itself.
private func referenceDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
    let b = Array(bytes)
    var out: [UInt8] = []
    var i = 0
    while i < b.count {
        if b[i] == 0x2B {
            out.append(0x20); i += 1
        } else if b[i] == 0x25, i + 2 < b.count, let h = hexValue(b[i + 1]), let l = hexValue(b[i + 2]) {
            out.append(h << 4 | l); i += 3
        } else {
            out.append(b[i]); i += 1
        }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    let input = Array(buffer)
    var expected: [String: [UInt8]] = [:]
    var duplicate = false
    for pair in input.split(separator: 0x26) {
        let name: ArraySlice<UInt8>
        let value: [UInt8]
        if let equals = pair.firstIndex(of: 0x3D) {
            name = pair[..<equals]
            value = referenceDecode(pair[(equals + 1)...])
        } else {
            name = pair
            value = []
        }
        let key = String(decoding: referenceDecode(name), as: UTF8.self)
        if expected[key] != nil { duplicate = true }
        expected[key] = value
    }

    let parsed: RequestFields?
    do { parsed = try FormBody.parse(buffer) } catch { parsed = nil }
    guard var fields = parsed else {
        if !duplicate { fatalError("refused a form without a duplicate name") }
        return 0
    }
    if duplicate { fatalError("accepted a form with a duplicate name") }

    var copies: [[UInt8]] = []
    for (key, value) in expected {
        guard let bytes = (try? fields.bytes(key)) ?? nil else { fatalError("bytes(\(key.debugDescription)) missing") }
        guard bytes == value else { fatalError("value of \(key.debugDescription) differs from the reference") }
        guard (try? fields.text(key)) == String(decoding: value, as: UTF8.self) else { fatalError("text() differs") }
        copies.append(bytes)
    }
    fields.wipe()
    for key in expected.keys where fields.has(key) { fatalError("wipe() left \(key.debugDescription)") }
    for copy in copies where copy.contains(where: { $0 != 0 }) { fatalError("wipe() left a value's bytes") }
    return 0
}
