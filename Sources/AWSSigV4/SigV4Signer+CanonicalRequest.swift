import Foundation

extension SigV4Signer {
    struct CanonicalRequest {
        var text: String
        var signedHeaders: String
    }

    func canonicalRequest(_ request: SigningRequest) -> CanonicalRequest {
        let headers = Self.canonicalHeaders(request)
        let signedHeaders = headers.map(\.name).joined(separator: ";")
        let text = [
            request.method.uppercased(),
            Self.canonicalURI(request.url),
            Self.canonicalQuery(request.url),
            headers.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            Digest.sha256(request.body).hexString,
        ].joined(separator: "\n")
        return CanonicalRequest(text: text, signedHeaders: signedHeaders)
    }

    /// The path as sent, encoded once more (every service but S3 double-encodes).
    static func canonicalURI(_ url: URL) -> String {
        let path = url.path(percentEncoded: true)
        return path.isEmpty ? "/" : URIEncoding.encode(path, keepSlash: true)
    }

    /// Parameters decoded, re-encoded the SigV4 way, and sorted by name, then value.
    static func canonicalQuery(_ url: URL) -> String {
        guard let query = url.query(percentEncoded: true), !query.isEmpty else { return "" }
        var pairs: [(name: String, value: String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = URIEncoding.encode(URIEncoding.decode(parts[0]))
            let value = parts.count > 1 ? URIEncoding.encode(URIEncoding.decode(parts[1])) : ""
            pairs.append((name, value))
        }
        pairs.sort { $0.name == $1.name ? $0.value < $1.value : $0.name < $1.name }
        return pairs.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// Lower-case names, values trimmed with inner runs of spaces collapsed, repeated names joined by commas.
    static func canonicalHeaders(_ request: SigningRequest) -> [(name: String, value: String)] {
        var merged: [String: [String]] = [:]
        var sawHost = false
        for header in request.headers {
            let name = header.name.lowercased()
            guard !unsignedHeaders.contains(name) else { continue }
            if name == "host" { sawHost = true }
            merged[name, default: []].append(normalizeValue(header.value))
        }
        if !sawHost { merged["host"] = [request.hostHeader] }
        return merged.keys.sorted().map { ($0, merged[$0]!.joined(separator: ",")) }
    }

    static func normalizeValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }
}
