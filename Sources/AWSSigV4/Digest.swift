import CLibCrypto

/// SHA-256 and HMAC-SHA256 from libcrypto; the rest of ConsoleGate hashes through these.
public enum Digest {
    public static let sha256Length = 32

    public static func sha256<Bytes: Collection<UInt8>>(_ data: Bytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: sha256Length)
        let ok = data.withContiguousStorageIfAvailable { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &out, nil, EVP_sha256(), nil)
        } ?? Array(data).withUnsafeBufferPointer { buffer in
            EVP_Digest(buffer.baseAddress, buffer.count, &out, nil, EVP_sha256(), nil)
        }
        precondition(ok == 1, "libcrypto SHA-256 failed")
        return out
    }

    public static func sha256(_ string: String) -> [UInt8] {
        sha256(Array(string.utf8))
    }

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        key.withUnsafeBufferPointer { hmacSHA256(key: $0, data: data) }
    }

    /// HMAC under a key that lives outside an array (a `SecretBytes`), so no copy of it is made.
    public static func hmacSHA256(key: UnsafeBufferPointer<UInt8>, data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: sha256Length)
        var length: UInt32 = 0
        let result = data.withUnsafeBufferPointer { dataBuffer in
            HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), dataBuffer.baseAddress, dataBuffer.count, &out, &length)
        }
        precondition(result != nil && length == UInt32(sha256Length), "libcrypto HMAC-SHA256 failed")
        return out
    }

    public static func hmacSHA256(key: [UInt8], string: String) -> [UInt8] {
        hmacSHA256(key: key, data: Array(string.utf8))
    }
}

extension Collection<UInt8> {
    /// Lower-case hexadecimal, as SigV4 prints hashes and signatures.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var chars = [UInt8]()
        chars.reserveCapacity(count * 2)
        for byte in self {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: chars, as: UTF8.self)
    }
}
