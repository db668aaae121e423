import Secrets

/// The fields of a JSON or form request body, kept as bytes so that secrets can be wiped. Every field is
/// read through a typed accessor: a string field that holds a boolean is an error, not the text "true".
struct RequestFields {
    enum Value {
        case text([UInt8])
        case flag(Bool)
    }

    /// A field of the wrong type; the message names it, for a 400 answer.
    struct WrongType: Error, CustomStringConvertible {
        var field: String
        var expected: String
        var description: String { "\(field) must be \(expected)" }
    }

    private var values: [String: Value] = [:]

    /// False, and nothing stored, when the key is already there.
    mutating func insert(_ key: String, _ value: Value) -> Bool {
        guard values[key] == nil else {
            if case .text(let bytes) = value { Secrets.wipe(storageOf: bytes) }
            return false
        }
        values[key] = value
        return true
    }

    func has(_ key: String) -> Bool { values[key] != nil }

    /// The field's bytes (for secrets); nil when absent.
    func bytes(_ key: String) throws -> [UInt8]? {
        switch values[key] {
        case nil: return nil
        case .text(let bytes): return bytes
        case .flag: throw WrongType(field: key, expected: "a string")
        }
    }

    func text(_ key: String) throws -> String? {
        try bytes(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A yes/no field: JSON true/false, or the text "true"/"false" (what forms and older clients send).
    func flag(_ key: String) throws -> Bool? {
        switch values[key] {
        case nil: return nil
        case .flag(let value): return value
        case .text(let bytes) where bytes == Array("true".utf8): return true
        case .text(let bytes) where bytes == Array("false".utf8): return false
        case .text: throw WrongType(field: key, expected: "true or false")
        }
    }

    /// Overwrites every value, for when the secrets have been taken out.
    mutating func wipe() {
        for case .text(let bytes) in values.values { Secrets.wipe(storageOf: bytes) }
        values.removeAll()
    }
}
