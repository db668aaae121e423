import HummingbirdCore
import HummingbirdTLS
import Logging
import Minting
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Connections accepted before `serve` has given up root wait here, neither set up nor read (the kernel holds
/// their bytes), so no TLS handshake or HTTP parsing ever runs as root. NIO registers an accepted socket for
/// reading only once its setup has finished.
public final class ConnectionGate: Sendable {
    private let promise: EventLoopPromise<Void>
    private let settled = Mutex(false)

    public init() {
        promise = NIOSingletons.posixEventLoopGroup.any().makePromise()
    }

    /// A gate that never holds anything back: for servers that never run as root (tests).
    public static func alreadyOpen() -> ConnectionGate {
        let gate = ConnectionGate()
        gate.open()
        return gate
    }

    /// Returns once the gate has opened; throws if it closed unopened.
    public func waitUntilOpen() async throws {
        try await promise.futureResult.get()
    }

    public func open() {
        if settleFirst() { promise.succeed() }
    }

    /// Waiting connections are closed: the gate went away unopened (a start-up that failed).
    private func close() {
        if settleFirst() { promise.fail(ChannelError.ioOnClosedChannel) }
    }

    /// True for the first caller only: a promise is completed once.
    private func settleFirst() -> Bool {
        settled.withLock { wasSettled in
            defer { wasSettled = true }
            return !wasSettled
        }
    }

    deinit { close() }

    fileprivate func opened(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        promise.futureResult.hop(to: eventLoop)
    }
}

/// A child channel whose setup waits for the gate.
struct GatedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let gate: ConnectionGate

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        gate.opened(on: channel.eventLoop).flatMap {
            // Before the first read: every buffer of the connection, from the socket read on, may hold a password.
            channel.setOption(ChannelOptions.allocator, value: .wiping)
        }.flatMap { base.setup(channel: channel, logger: logger) }.flatMapThrowing { value in
            let codec = try channel.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self)
            try channel.pipeline.syncOperations.addHandler(HTTP10ConnectionClose(), position: .before(codec))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1, over TLS when `tls` is set, with each connection's setup held back until `gate` opens.
    static func gated(_ gate: ConnectionGate, _ configuration: HTTP1Channel.Configuration, tls: TLSConfiguration? = nil) -> HTTPServerBuilder {
        .init { responder in
            let http1 = HTTP1Channel(responder: responder, configuration: configuration)
            guard let tls else { return GatedChannel(base: http1, gate: gate) }
            return GatedChannel(base: try TLSChannel(http1, tlsConfiguration: tls), gate: gate)
        }
    }
}

/// HTTP/1.0 closes the connection after each answer unless the client asked to keep it alive. Hummingbird
/// closes only on an explicit `Connection: close` (the HTTP version is gone once the head becomes an HTTP
/// type), so an HTTP/1.0 client waiting for the close (ab, old health checkers) would wait for `idle_timeout`.
/// This makes the close explicit for such requests, before the conversion.
final class HTTP10ConnectionClose: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), head.version == .http1_0, !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
