import CLibCrypto
import Secrets

/// SHA-256 from libcrypto, and HMAC-SHA256 (RFC 2104) on top of it; the rest of ConsoleGate hashes through these.
public enum Digest {
    public static let sha256Length = 32
    static let sha256BlockLength = 64

    public static func sha256<Bytes: Collection<UInt8>>(_ data: Bytes) -> [UInt8] {
        var hash = SHA256Hash()
        if data.withContiguousStorageIfAvailable({ hash.update($0) }) == nil {
            Array(data).withUnsafeBufferPointer { hash.update($0) }
        }
        return hash.finish()
    }

    public static func sha256(_ string: String) -> [UInt8] {
        sha256(Array(string.utf8))
    }

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        key.withUnsafeBufferPointer { hmacSHA256(key: $0, data: data) }
    }

    /// HMAC under a key that lives outside an array (a `SecretBytes`), so no copy of it is made. The padded key
    /// blocks are wiped before this returns.
    public static func hmacSHA256(key: UnsafeBufferPointer<UInt8>, data: [UInt8]) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: sha256BlockLength)
        defer { wipe(&block) }
        if key.count > sha256BlockLength {
            var hashedKey = sha256(key)
            block.replaceSubrange(0..<sha256Length, with: hashedKey)
            wipe(&hashedKey)
        } else {
            block.replaceSubrange(0..<key.count, with: key)
        }
        let inner = keyedHash(block: &block, pad: 0x36, data)
        return keyedHash(block: &block, pad: 0x36 ^ 0x5C, inner)
    }

    public static func hmacSHA256(key: [UInt8], string: String) -> [UInt8] {
        hmacSHA256(key: key, data: Array(string.utf8))
    }

    /// SHA-256 of (block XOR pad) followed by data; leaves the block XORed with pad.
    private static func keyedHash(block: inout [UInt8], pad: UInt8, _ data: [UInt8]) -> [UInt8] {
        for i in block.indices { block[i] ^= pad }
        var hash = SHA256Hash()
        block.withUnsafeBufferPointer { hash.update($0) }
        data.withUnsafeBufferPointer { hash.update($0) }
        return hash.finish()
    }
}

/// One SHA-256 computation; its state, which follows from a keyed block in an HMAC, is wiped when it finishes.
private struct SHA256Hash {
    private var context = SHA256_CTX()

    init() {
        precondition(SHA256_Init(&context) == 1, "libcrypto SHA-256 failed")
    }

    mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(SHA256_Update(&context, bytes.baseAddress, bytes.count) == 1, "libcrypto SHA-256 failed")
    }

    mutating func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Digest.sha256Length)
        precondition(SHA256_Final(&out, &context) == 1, "libcrypto SHA-256 failed")
        withUnsafeMutableBytes(of: &context) { wipe($0) }
        return out
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
