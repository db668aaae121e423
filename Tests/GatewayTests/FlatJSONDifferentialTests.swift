import Foundation
import Testing
import TestSupport

@testable import Gateway

/// FlatJSON (the login body reader) against Foundation's JSONSerialization, as the SigV4 signer is checked
/// against botocore: on 20,000 seeded random and adversarial inputs,
///  - whenever FlatJSON accepts, Foundation accepts too, with the same keys and the same string/boolean values
///    (read back through RequestFields' typed accessors);
///  - whenever Foundation yields a flat object of strings and booleans without a duplicate key, FlatJSON accepts.
///
/// Where the two legitimately differ, the case is excluded, and only that class:
///  1. Foundation accepts a trailing comma (`{"a":"b",}`), which RFC 8259 forbids; FlatJSON refuses it.
///  2. Foundation guesses UTF-16/UTF-32 from NUL bytes or a UTF-16 byte-order mark at the start and decodes
///     the whole text so; a login body is UTF-8 (RFC 8259 §8.1), and FlatJSON reads it only as that.
///  3. Foundation drops a raw U+FEFF (EF BB BF) at the start of every unescaped run of a string, so
///     `{"\u{FEFF}k":"v"}` has the key "k" there, and it ignores a byte-order mark before the text. FlatJSON
///     keeps U+FEFF inside a string (an ordinary character) and refuses it outside one. Foundation is
///     therefore given the input with every raw U+FEFF written as the escape `\ufeff`, which it keeps: the
///     same JSON inside a string, and just as invalid outside one (so a leading BOM is refused by both); a raw
///     U+FEFF right after an unescaped backslash is left as it is (a bad escape for both).
/// Duplicate keys are found independently of both parsers, by counting the object's keys in the text: a
/// valid flat object with more keys than Foundation's dictionary has a duplicate (under Swift String
/// equality, the same notion both dictionaries use, so canonically equivalent keys such as "é" and "e\u{301}"
/// count as duplicates, and FlatJSON refuses them).
@Suite struct FlatJSONDifferentialTests {
    static let caseCount = 20_000
    /// Fixed, so a failure reproduces; FLATJSON_DIFFERENTIAL_SEED=<number> explores another sequence.
    static let seed: UInt64 = ProcessInfo.processInfo.environment["FLATJSON_DIFFERENTIAL_SEED"].flatMap { UInt64($0) }
        ?? 0x5EED_F1A7_0750_0001

    // MARK: - The oracle

    enum Verdict {
        case accepted([String: Value])
        case refused
        case notFlat   // Foundation accepted something other than a flat object of strings and booleans
    }

    enum Value: Equatable {
        case text([UInt8])
        case flag(Bool)
    }

    static func foundation(_ bytes: [UInt8]) -> Verdict {
        guard let object = try? JSONSerialization.jsonObject(with: Data(escapingByteOrderMarks(bytes)), options: []) else {
            return .refused
        }
        guard let dictionary = object as? [String: Any] else { return .notFlat }
        var values: [String: Value] = [:]
        let booleanType = type(of: NSNumber(value: true))
        for (key, value) in dictionary {
            if let string = value as? String {
                values[key] = .text(Array(string.utf8))
            } else if let number = value as? NSNumber, type(of: number) == booleanType {
                values[key] = .flag(number.boolValue)
            } else {
                return .notFlat
            }
        }
        return .accepted(values)
    }

    static func escapingByteOrderMarks(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if index + 2 < bytes.count, bytes[index] == 0xEF, bytes[index + 1] == 0xBB, bytes[index + 2] == 0xBF,
               out.reversed().prefix(while: { $0 == UInt8(ascii: "\\") }).count % 2 == 0 {
                out += Array(#"\ufeff"#.utf8)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// Counts keys (strings followed by a colon) and notes a comma followed by `}` or `]`, outside strings.
    /// Meaningful only for text that Foundation accepted.
    static func scan(_ bytes: [UInt8]) -> (keys: Int, trailingComma: Bool) {
        var keys = 0
        var trailingComma = false
        var index = 0
        var lastWasComma = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
                var next = index
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: ":") { keys += 1 }
                lastWasComma = false
                continue
            case UInt8(ascii: ","):
                lastWasComma = true
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if lastWasComma { trailingComma = true }
                lastWasComma = false
            case 0x20, 0x09, 0x0A, 0x0D:
                break
            default:
                lastWasComma = false
            }
            index += 1
        }
        return (keys, trailingComma)
    }

    /// Foundation's encoding detection (class 2 above): NUL among the first four bytes, or a UTF-16 BOM.
    static func looksLikeUTF16Or32(_ bytes: [UInt8]) -> Bool {
        bytes.prefix(4).contains(0) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE])
    }

    enum Outcome: Equatable {
        case agree
        case excluded(String)
        case mismatch(String)
    }

    static func compare(_ input: [UInt8]) -> Outcome {
        var flat: RequestFields?
        do {
            flat = try input.withUnsafeBufferPointer { try FlatJSON.parseObject($0) }
        } catch {
            flat = nil
        }
        defer { flat?.wipe() }
        let reference = foundation(input)

        if var fields = flat {
            guard case .accepted(let values) = reference else {
                return .mismatch("FlatJSON accepted, Foundation: \(reference)")
            }
            guard scan(input).keys == values.count else {
                return .mismatch("FlatJSON accepted \(scan(input).keys) keys, Foundation has \(values.count)")
            }
            for (key, value) in values {
                guard fields.has(key) else { return .mismatch("key \(key.debugDescription) missing") }
                switch value {
                case .text(let expected):
                    guard let bytes = (try? fields.bytes(key)) ?? nil, bytes == expected else {
                        return .mismatch("value of \(key.debugDescription) differs")
                    }
                    guard (try? fields.text(key)) == String(decoding: expected, as: UTF8.self) else {
                        return .mismatch("text(\(key.debugDescription)) differs")
                    }
                case .flag(let expected):
                    guard (try? fields.flag(key)) == expected else { return .mismatch("flag(\(key.debugDescription)) differs") }
                    guard (try? fields.text(key)) == nil else { return .mismatch("a boolean read as text: \(key.debugDescription)") }
                }
            }
            fields.wipe()
            flat = nil
            return .agree
        }

        guard case .accepted(let values) = reference else { return .agree }
        if looksLikeUTF16Or32(input) { return .excluded("UTF-16/32 guessed by Foundation") }
        let scanned = scan(input)
        if scanned.trailingComma { return .excluded("trailing comma") }
        if scanned.keys != values.count { return .agree }   // a duplicate key: refusing it is FlatJSON's rule
        return .mismatch("Foundation accepted a flat object without duplicates, FlatJSON refused")
    }

    // MARK: - Generation

    struct Generator {
        var random: SplitMix64
        /// Half the objects are built from valid pieces only (still with surrogate pairs, escapes, unicode,
        /// booleans and whitespace), so that both verdicts are well represented.
        var valid = false

        static let names = ["user", "password", "otp", "remember", "role", "destination", "format", "", "a", "é", "e\u{301}",
                            "pass word", "\u{FEFF}user", "密码", "😀"]

        mutating func whitespace() -> [UInt8] {
            guard random.chance(30) else { return [] }
            var out: [UInt8] = []
            for _ in 0..<(1 + random.below(3)) {
                // Mostly JSON whitespace; sometimes a character that is not (vertical tab, form feed, NBSP, BOM).
                out += valid || random.chance(90) ? [random.pick([0x20, 0x09, 0x0A, 0x0D])]
                    : random.pick([[0x0B], [0x0C], [0xC2, 0xA0], [0xEF, 0xBB, 0xBF], [0x00]])
            }
            return out
        }

        mutating func hex4(_ value: Int) -> [UInt8] {
            let digits = random.chance(50) ? "0123456789abcdef" : "0123456789ABCDEF"
            return Array("\\u".utf8) + (0..<4).reversed().map { Array(digits.utf8)[(value >> ($0 * 4)) & 0xF] }
        }

        /// The inside of a string literal, valid or (sometimes) not.
        mutating func stringBody() -> [UInt8] {
            var out: [UInt8] = []
            for _ in 0..<random.below(12) {
                // Valid pieces only: 0..<68 (ASCII, escapes, \u escapes, pairs), 71..<82 (raw UTF-8), 90..<100.
                let roll = valid ? random.pick([random.below(68), 71 + random.below(11), 90 + random.below(10)]) : random.below(100)
                switch roll {
                case 0..<40:                                                     // printable ASCII (may be " or \)
                    let byte = UInt8(0x20 + random.below(0x5F))
                    out += valid && (byte == 0x22 || byte == 0x5C) ? [0x5C, byte] : [byte]
                case 40..<50: out += random.pick([#"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#]).utf8
                case 50..<58: out += hex4(random.below(0xD800))                   // \u escape below the surrogates
                case 58..<62: out += hex4(0xE000 + random.below(0x2000))
                case 62..<68:                                                    // a surrogate pair
                    out += hex4(0xD800 + random.below(0x400)) + hex4(0xDC00 + random.below(0x400))
                case 68..<70: out += hex4(0xD800 + random.below(0x800))           // a lone surrogate
                case 70..<71: out += hex4(0xDC00 + random.below(0x400)) + hex4(0xD800 + random.below(0x400))
                case 71..<82:                                                    // raw UTF-8
                    let scalar = random.pick([0xE9, 0x301, 0x4E2D, 0xFEFF, 0x1F600, 0x10FFFF, 0x7FF, 0x800, 0xFFFD])
                    out += Array(String(Unicode.Scalar(UInt32(scalar))!).utf8)
                case 82..<86:                                                    // invalid UTF-8
                    out += random.pick([[0xC3, 0x28], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80],
                                        [0xE2, 0x82], [0xFF], [0xF0, 0x9F, 0x98]])
                case 86..<88: out.append(UInt8(random.below(0x20)))                // raw control character
                case 88..<90: out += random.pick([#"\x"#, #"\u12"#, #"\u12G4"#, #"\'"#, "\\"]).utf8   // bad escapes
                default: out += Array("pässwörd".utf8)
                }
            }
            return out
        }

        mutating func key() -> [UInt8] {
            random.chance(60) ? Array(Self.names[random.below(Self.names.count)].utf8) : stringBody()
        }

        mutating func value() -> [UInt8] {
            switch random.below(valid ? 75 : 100) {
            case 0..<60: return [0x22] + stringBody() + [0x22]
            case 60..<75: return Array(random.pick(["true", "false"]).utf8)
            case 75..<79: return Array("null".utf8)
            case 79..<84: return Array(random.pick(["0", "-1", "1.5e3", "12", "1e400", "-0"]).utf8)
            case 84..<88: return Array(random.pick(["{}", "[]", #"{"a":"b"}"#, #"["x",true]"#, #"{"a":{"b":[]}}"#]).utf8)
            case 88..<92: return Array(random.pick(["True", "nul", "tru", "'x'", "\"x", "x"]).utf8)
            default: return [0x22] + Array("plain".utf8) + [0x22]
            }
        }

        /// A flat object, usually valid; sometimes with a duplicate key or a syntax slip.
        mutating func object() -> [UInt8] {
            var out = whitespace() + [UInt8(ascii: "{")]
            var keys: [[UInt8]] = []
            let count = random.below(7)
            for index in 0..<count {
                let key: [UInt8] = (!keys.isEmpty && random.chance(valid ? 2 : 8)) ? random.pick(keys) : key()
                keys.append(key)
                out += whitespace() + [0x22] + key + [0x22] + whitespace()
                out += valid || random.chance(98) ? [UInt8(ascii: ":")] : []
                out += whitespace() + value() + whitespace()
                if index < count - 1 { out += valid || random.chance(98) ? [UInt8(ascii: ",")] : [] }
            }
            if !valid, count > 0, random.chance(3) { out.append(UInt8(ascii: ",")) }
            out += whitespace()
            if valid || random.chance(98) { out.append(UInt8(ascii: "}")) }
            out += whitespace()
            if !valid, random.chance(4) {
                out += random.pick([Array("{}".utf8), Array("x".utf8), [0x00], Array(",".utf8), Array("}".utf8), Array("//".utf8)])
            }
            return out
        }

        mutating func mutate(_ input: [UInt8]) -> [UInt8] {
            var bytes = input
            for _ in 0..<(1 + random.below(3)) {
                switch random.below(6) {
                case 0 where !bytes.isEmpty: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
                case 1: bytes.insert(UInt8(random.below(256)), at: random.below(bytes.count + 1))
                case 2: bytes.insert(random.pick(Array(#"{}[]:,"\ntfu0"#.utf8)), at: random.below(bytes.count + 1))
                case 3 where !bytes.isEmpty: bytes.remove(at: random.below(bytes.count))
                case 4 where !bytes.isEmpty:
                    let start = random.below(bytes.count)
                    let end = start + random.below(bytes.count - start + 1)
                    bytes.insert(contentsOf: bytes[start..<end], at: random.below(bytes.count + 1))
                case 5 where !bytes.isEmpty: bytes.removeLast(random.below(bytes.count) + 1)
                default: break
                }
            }
            return bytes
        }

        mutating func next() -> [UInt8] {
            valid = random.chance(50)
            switch random.below(10) {
            case 0..<6: return object()
            case 6..<9: return mutate(object())
            default:
                return (0..<random.below(24)).map { _ in random.pick(Array(#"{}[]:,"\ tfrue0a"#.utf8) + [0xC3, 0xFF]) }
            }
        }
    }

    // MARK: - Tests

    @Test func agreesWithFoundationOnRandomInputs() {
        var generator = Generator(random: SplitMix64(state: Self.seed))
        var accepted = 0
        var agreed = 0
        var excluded: [String: Int] = [:]
        var mismatches: [String] = []
        for number in 0..<Self.caseCount {
            let input = generator.next()
            switch Self.compare(input) {
            case .agree:
                agreed += 1
                if (try? input.withUnsafeBufferPointer({ try FlatJSON.parseObject($0) })) != nil { accepted += 1 }
            case .excluded(let why): excluded[why, default: 0] += 1
            case .mismatch(let why):
                if mismatches.count < 10 {
                    mismatches.append("case \(number): \(why); input \(input) \(String(decoding: input, as: UTF8.self).debugDescription)")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        // The generator must produce a real mix, or the comparison says little.
        #expect(accepted > Self.caseCount / 5, "only \(accepted) accepted cases")
        #expect(agreed - accepted > Self.caseCount / 5, "only \(agreed - accepted) refused cases")
        print("FlatJSON differential (seed \(Self.seed)): \(Self.caseCount) cases, \(accepted) accepted by both, \(agreed - accepted) refused by FlatJSON (and by Foundation, or not flat or with a duplicate there), excluded \(excluded)")
    }

    // MARK: - Regressions and the documented rules

    static func parse(_ text: String) throws -> RequestFields {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try FlatJSON.parseObject($0) }
    }

    static func parse(bytes: [UInt8]) throws -> RequestFields {
        try bytes.withUnsafeBufferPointer { try FlatJSON.parseObject($0) }
    }

    @Test func aBooleanPasswordIsAFlagNotText() throws {
        var fields = try Self.parse(#"{"password": true}"#)
        defer { fields.wipe() }
        #expect(throws: RequestFields.WrongType.self) { try fields.text("password") }
        #expect(throws: RequestFields.WrongType.self) { try fields.bytes("password") }
        #expect(try fields.flag("password") == true)
    }

    @Test func nullIsRefused() {
        #expect(throws: (any Error).self) { try Self.parse(#"{"a":null}"#) }
        #expect(throws: (any Error).self) { try Self.parse(#"{"password":"x","password":null}"#) }
    }

    @Test(arguments: [
        #"{"a":"x","a":"y"}"#, #"{"a":"x","a":true}"#, #"{"a":true,"a":"x"}"#, #"{"a":false,"a":false}"#,
        #"{"a":"x","b":"y","a":"x"}"#, #"{"\u00e9":"1","é":"2"}"#, #"{"é":"1","e\u0301":"2"}"#,
    ])
    func duplicateKeysOfAnyTypeAreRefused(_ body: String) {
        #expect(throws: (any Error).self) { try Self.parse(body) }
    }

    @Test(arguments: [
        [0xC3, 0x28], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xF0, 0x9F, 0x98],
    ] as [[UInt8]])
    func invalidUTF8InAStringIsRefused(_ sequence: [UInt8]) {
        #expect(throws: (any Error).self) { try Self.parse(bytes: Array(#"{"password":""#.utf8) + sequence + Array(#""}"#.utf8)) }
        #expect(throws: (any Error).self) { try Self.parse(bytes: Array(#"{""#.utf8) + sequence + Array(#"":"x"}"#.utf8)) }
    }

    @Test func loneSurrogatesAreRefusedAndPairsDecoded() throws {
        #expect(throws: (any Error).self) { try Self.parse(#"{"a":"\ud800"}"#) }
        #expect(throws: (any Error).self) { try Self.parse(#"{"a":"\udc00"}"#) }
        #expect(throws: (any Error).self) { try Self.parse(#"{"a":"\ud800\u0041"}"#) }
        var fields = try Self.parse(#"{"a":"\ud83d\ude00"}"#)
        defer { fields.wipe() }
        #expect(try fields.text("a") == "😀")
    }

    /// The documented exclusions hold as described (so that a change in Foundation shows up here).
    @Test func documentedDifferences() throws {
        #expect(throws: (any Error).self) { try Self.parse(#"{"a":"b",}"#) }
        #expect(Self.compare(Array(#"{"a":"b",}"#.utf8)) == .excluded("trailing comma"))
        var fields = try Self.parse("{\"\u{FEFF}k\":\"v\"}")
        defer { fields.wipe() }
        #expect(fields.has("\u{FEFF}k"))
        #expect(Self.compare(Array("{\"\u{FEFF}k\":\"\u{FEFF}v\"}".utf8)) == .agree)
        #expect(throws: (any Error).self) { try Self.parse("\u{FEFF}{}") }
        #expect(Self.compare(Array("\u{FEFF}{}".utf8)) == .agree)
    }
}
