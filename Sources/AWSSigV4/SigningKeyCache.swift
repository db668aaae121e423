import Foundation
import Synchronization
import Secrets

/// Derived SigV4 signing keys, one per access key, day, region and service: four HMACs saved per request.
public final class SigningKeyCache: Sendable {
    public static let shared = SigningKeyCache()

    private struct Entry {
        var secretDigest: [UInt8]
        var key: SecretBytes
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    public init(capacity: Int = 64) {
        self.capacity = capacity
    }

    func signingKey(credentials: AWSCredentials, day: String, region: String, service: String) -> SecretBytes {
        let cacheKey = "\(credentials.accessKeyId)/\(day)/\(region)/\(service)"
        // A digest of the secret, so a rotated secret under the same key id never reuses a stale key.
        let secretDigest = Digest.sha256(credentials.secretAccessKey)
        if let hit = entries.withLock({ $0[cacheKey] }), hit.secretDigest == secretDigest {
            return hit.key
        }
        let key = Self.deriveKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[cacheKey] = Entry(secretDigest: secretDigest, key: key)
        }
        return key
    }

    /// The key chain of SigV4: each intermediate key is wiped once the next is derived from it.
    static func deriveKey(secret: String, day: String, region: String, service: String) -> SecretBytes {
        var key = Array("AWS4\(secret)".utf8)
        for scope in [day, region, service, "aws4_request"] {
            var next = Digest.hmacSHA256(key: key, string: scope)
            swap(&key, &next)
            wipe(&next)
        }
        defer { wipe(&key) }
        return SecretBytes(copying: key)
    }

    var count: Int { entries.withLock { $0.count } }
}
