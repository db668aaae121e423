import AWSSigV4
import Testing

/// FIPS 180-2 and RFC 4231 test vectors: HMAC-SHA256 is built here on libcrypto's SHA-256.
struct DigestTests {
    @Test func sha256MatchesFIPS180Vectors() {
        #expect(Digest.sha256("abc").hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.sha256("").hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Two blocks, and a collection without contiguous storage.
        let twoBlocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(Digest.sha256(twoBlocks.utf8.lazy.map { $0 }).hexString
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test(arguments: [
        // RFC 4231 case 1: a key shorter than the block.
        ([UInt8](repeating: 0x0b, count: 20), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        // Case 2: a key shorter than the hash.
        (Array("Jefe".utf8), "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        // Case 6: a key longer than the block is hashed first.
        ([UInt8](repeating: 0xaa, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        // A key of exactly one block is used as it is (the value from Python's hmac module).
        ([UInt8](repeating: 0x61, count: 64), "block",
         "5a6f7a0b42d6ea1bd154a9ed687b0a621e9bc635c1c5105730aed283feb459a5"),
    ])
    func hmacMatchesRFC4231Vectors(key: [UInt8], message: String, expected: String) {
        #expect(Digest.hmacSHA256(key: key, string: message).hexString == expected)
    }
}
