// libFuzzer target: XMLFields (AWS Query/XML responses from STS; reached over TLS, but a hostile proxy or
// endpoint override makes the bytes untrusted). Built by scripts/fuzz.sh together with
// Sources/Minting/XMLFields.swift. Coverage is of our Swift code and Foundation's bridging, not of the
// (uninstrumented) libxml2 underneath.
//
// The crashes it found inside FoundationXML (Tests/Fuzz/regressions/xml-fields/foundationxml-*), and a leak on
// every parse error, ended its use: XMLFields reads AWS responses itself now.
//
// Invariants: every stored value is non-empty and trimmed, every path non-empty with no empty component,
// lookups agree with `values`.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let fields = XMLFields(input) else { return 0 }
    for (path, value) in fields.values {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.hasSuffix("/") else { fatalError("bad path \(path.debugDescription)") }
        guard !value.isEmpty, value == value.trimmingCharacters(in: .whitespacesAndNewlines) else {
            fatalError("untrimmed value at \(path.debugDescription)")
        }
        guard fields[path] == value else { fatalError("subscript disagrees at \(path.debugDescription)") }
        guard let last = path.split(separator: "/").last, fields.first(endingWith: String(last)) != nil else {
            fatalError("first(endingWith:) misses \(path.debugDescription)")
        }
    }
    _ = fields["AssumeRoleResult/Credentials/AccessKeyId"]
    _ = fields.first(endingWith: "Credentials/SecretAccessKey")
    _ = fields["Error/Code"]
    return 0
}
