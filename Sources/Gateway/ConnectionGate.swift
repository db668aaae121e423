import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
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

    public func open() {
        if settleFirst() { promise.succeed() }
    }

    /// Waiting connections are closed; for a start-up that failed.
    public func close() {
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
        gate.opened(on: channel.eventLoop).flatMap { base.setup(channel: channel, logger: logger) }
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
