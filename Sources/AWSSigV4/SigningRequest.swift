import Foundation

/// What the signer needs to know about an HTTP request; it has no transport of its own.
public struct SigningRequest: Sendable {
    public var method: String
    public var url: URL
    /// Headers the request will carry. `Host` is derived from the URL and need not be listed.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// `host` or `host:port` when the port is not the scheme's default, as the request line's Host header.
    public var hostHeader: String {
        let host = url.host(percentEncoded: false) ?? ""
        let bracketed = host.contains(":") ? "[\(host)]" : host
        guard let port = url.port else { return bracketed }
        let isDefault = (url.scheme == "https" && port == 443) || (url.scheme == "http" && port == 80)
        return isDefault ? bracketed : "\(bracketed):\(port)"
    }
}
