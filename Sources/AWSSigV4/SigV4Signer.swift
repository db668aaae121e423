import Foundation

/// AWS Signature Version 4 for one region and service (header-based signing).
public struct SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// Headers proxies and clients may add or rewrite, so AWS SDKs never sign them.
    static let unsignedHeaders: Set<String> = ["authorization", "user-agent", "expect", "transfer-encoding", "x-amzn-trace-id", "connection", "content-length"]

    public let region: String
    public let service: String
    private let keyCache: SigningKeyCache

    public init(region: String, service: String, keyCache: SigningKeyCache = .shared) {
        self.region = region
        self.service = service
        self.keyCache = keyCache
    }

    /// The headers to add to the request: `Host`, `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials)
    /// and `Authorization`.
    public func signingHeaders(for request: SigningRequest, credentials: AWSCredentials, date: Date = Date()) -> [(name: String, value: String)] {
        let timestamp = Self.timestamp(date)
        var added: [(name: String, value: String)] = [("Host", request.hostHeader), ("X-Amz-Date", timestamp)]
        if let token = credentials.sessionToken {
            added.append(("X-Amz-Security-Token", token))
        }
        var signed = request
        signed.headers = request.headers.filter { header in
            !["host", "x-amz-date", "x-amz-security-token"].contains(header.name.lowercased())
        } + added
        let authorization = self.authorization(for: signed, credentials: credentials, timestamp: timestamp)
        return added + [("Authorization", authorization)]
    }

    func authorization(for request: SigningRequest, credentials: AWSCredentials, timestamp: String) -> String {
        let day = String(timestamp.prefix(8))
        let canonical = canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical.text, timestamp: timestamp)
        let key = keyCache.signingKey(credentials: credentials, day: day, region: region, service: service)
        let signature = key.withUnsafeBytes { Digest.hmacSHA256(key: $0, data: Array(toSign.utf8)) }.hexString
        return "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(scope(day: day)), SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
    }

    func scope(day: String) -> String {
        "\(day)/\(region)/\(service)/aws4_request"
    }

    func stringToSign(canonicalRequest: String, timestamp: String) -> String {
        [Self.algorithm, timestamp, scope(day: String(timestamp.prefix(8))), Digest.sha256(canonicalRequest).hexString]
            .joined(separator: "\n")
    }

    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(c.year, 4))\(pad(c.month, 2))\(pad(c.day, 2))T\(pad(c.hour, 2))\(pad(c.minute, 2))\(pad(c.second, 2))Z"
    }
}
