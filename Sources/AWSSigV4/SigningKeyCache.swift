import Foundation
import Synchronization

/// Derived SigV4 signing keys, one per access key, day, region and service: four HMACs saved per request.
public final class SigningKeyCache: Sendable {
    public static let shared = SigningKeyCache()

    private struct Entry {
        var secretDigest: [UInt8]
        var key: [UInt8]
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    public init(capacity: Int = 64) {
        self.capacity = capacity
    }

    func signingKey(credentials: AWSCredentials, day: String, region: String, service: String) -> [UInt8] {
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

    static func deriveKey(secret: String, day: String, region: String, service: String) -> [UInt8] {
        var secretBytes = Array("AWS4\(secret)".utf8)
        defer { Digest.cleanse(&secretBytes) }
        let dateKey = Digest.hmacSHA256(key: secretBytes, string: day)
        let regionKey = Digest.hmacSHA256(key: dateKey, string: region)
        let serviceKey = Digest.hmacSHA256(key: regionKey, string: service)
        return Digest.hmacSHA256(key: serviceKey, string: "aws4_request")
    }

    var count: Int { entries.withLock { $0.count } }
}
