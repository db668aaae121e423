import Foundation

/// One HTTP exchange as the AWS clients see it; the transport underneath is injected.
public struct TransportRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Deadline for the whole exchange, connect to last byte.
    public var timeout: Duration

    public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: [UInt8] = [], timeout: Duration) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct TransportResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why an exchange produced no HTTP response at all.
public enum TransportError: Error, Sendable, Equatable {
    case timedOut
    case connectionFailed(String)
    case responseTooLarge(limit: Int)
}

public protocol HTTPTransport: Sendable {
    func send(_ request: TransportRequest) async throws -> TransportResponse
}
