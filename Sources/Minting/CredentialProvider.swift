import AWSSigV4
import Foundation

/// Hands out the broker's AWS credentials, which sign Cognito and STS calls.
public protocol CredentialProvider: Sendable {
    func credentials() async throws -> AWSCredentials
}

/// One place credentials may come from. `nil` means "not configured here": the chain moves on.
/// A source that is configured but broken throws instead, so a typo is not silently skipped.
public protocol CredentialSource: Sendable {
    var name: String { get }
    func resolve() async throws -> AWSCredentials?
}

public struct StaticCredentialProvider: CredentialProvider {
    let value: AWSCredentials
    public init(_ credentials: AWSCredentials) { value = credentials }
    public func credentials() async throws -> AWSCredentials { value }
}

/// The AWS SDK order: the first source that is configured wins.
public struct CredentialChain: CredentialSource {
    public let sources: [any CredentialSource]
    public var name: String { "chain" }

    public init(_ sources: [any CredentialSource]) {
        self.sources = sources
    }

    public func resolve() async throws -> AWSCredentials? {
        for source in sources {
            if let found = try await source.resolve() { return found }
        }
        return nil
    }
}

/// Keeps credentials until shortly before they expire; concurrent callers share a single refresh.
public actor CachingCredentialProvider: CredentialProvider {
    /// Refresh this long before expiry, so a request signed now does not reach AWS with dead credentials.
    public static let refreshMargin: TimeInterval = 5 * 60

    private let source: any CredentialSource
    private let now: @Sendable () -> Date
    private var cached: AWSCredentials?
    private var refresh: Task<AWSCredentials, any Error>?
    public private(set) var refreshCount = 0

    public init(source: any CredentialSource, now: @escaping @Sendable () -> Date = Date.init) {
        self.source = source
        self.now = now
    }

    public func credentials() async throws -> AWSCredentials {
        if let cached, isFresh(cached) { return cached }
        if let refresh { return try await refresh.value }
        let source = self.source
        let task = Task { () throws -> AWSCredentials in
            guard let found = try await source.resolve() else {
                throw MintingError.noBrokerCredentials(tried: (source as? CredentialChain)?.sources.map(\.name) ?? [source.name])
            }
            return found
        }
        refresh = task
        refreshCount += 1
        defer { refresh = nil }
        let fresh = try await task.value
        cached = fresh
        return fresh
    }

    private func isFresh(_ credentials: AWSCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return true }
        return expiration.timeIntervalSince(now()) > Self.refreshMargin
    }
}
