import Hummingbird
import NIOCore

/// The request context of both listeners: it keeps the connection, for the peer's address (TCP) or its
/// credentials (the Unix socket's SO_PEERCRED).
public struct GatewayContext: RequestContext {
    /// Login bodies are small; anything larger is refused with 413 before it is read.
    public static let bodyLimit = 16 * 1024

    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var maxUploadSize: Int { Self.bodyLimit }
}
