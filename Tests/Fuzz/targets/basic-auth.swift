// libFuzzer target: BasicCredentials (the `Authorization: Basic` header from any HTTP client).
// Built by scripts/fuzz.sh together with Sources/Gateway/BasicCredentials.swift and RequestFields.swift.
//
// Each input is used three ways:
//  1. as the header itself: no crash; an accepted header re-encodes to itself (modulo the scheme's case and
//     the spaces around the base64) when its user is valid UTF-8;
//  2. as base64 text: whatever our decoder accepts, Foundation decodes to the same bytes;
//  3. as the bytes to encode: Foundation's encoding decodes back to them, and a header built from
//     "user:password" (user without a colon) yields exactly that user and password.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))

    // 1. The raw header.
    let header = String(decoding: input, as: UTF8.self)
    if let credentials = BasicCredentials(header: header) {
        guard !credentials.user.utf8.contains(UInt8(ascii: ":")) else { fatalError("user contains a colon") }
        let plain = Array(credentials.user.utf8) + [UInt8(ascii: ":")] + credentials.password
        let trimmed = header.dropFirst(6).drop(while: { $0 == " " })
        let body = String(trimmed.reversed().drop(while: { $0 == " " }).reversed())
        let original = BasicCredentials.base64(ArraySlice(Array(body.utf8)))
        // The user is a String (lossy on invalid UTF-8); compare only when that decoding was exact.
        if let original, String(validatingUTF8: original.prefix(while: { $0 != UInt8(ascii: ":") }).map { CChar(bitPattern: $0) } + [0]) != nil,
           !original.contains(0) {
            guard original == plain else { fatalError("decoded header does not re-encode: \(input)") }
        }
    }

    // 2. The input as base64 text.
    if let decoded = BasicCredentials.base64(ArraySlice(input)) {
        guard let foundation = Data(base64Encoded: Data(input)) else {
            fatalError("base64 accepted what Foundation refuses: \(String(decoding: input, as: UTF8.self).debugDescription)")
        }
        guard Array(foundation) == decoded else { fatalError("base64 differs from Foundation for \(input)") }
    }

    // 3. The input as bytes to encode.
    let encoded = Data(input).base64EncodedString()
    guard BasicCredentials.base64(ArraySlice(Array(encoded.utf8))) == input else {
        fatalError("base64 does not decode Foundation's encoding of \(input)")
    }
    let split = input.firstIndex(of: 0xFF) ?? input.count / 2
    // Colons removed byte by byte: a String-level replace misses ":" when a combining mark follows it.
    let user = String(decoding: Array(String(decoding: input[..<split], as: UTF8.self).utf8).filter { $0 != UInt8(ascii: ":") },
                      as: UTF8.self)
    let password = Array(input[min(split + 1, input.count)...])
    let schemes = ["Basic", "basic", "BASIC", "bAsIc"]
    let scheme = schemes[Int(input.first ?? 0) % schemes.count]
    let credentials = Data(Array(user.utf8) + [UInt8(ascii: ":")] + password).base64EncodedString()
    guard let parsed = BasicCredentials(header: scheme + " " + credentials) else {
        fatalError("refused a well-formed header for user \(user.debugDescription)")
    }
    guard parsed.user == user, parsed.password == password else { fatalError("header round trip differs for \(input)") }
    return 0
}
