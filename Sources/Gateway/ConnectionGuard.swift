import GatewayAPI
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The connections of one listener, against its limits: at most `maxConnections` open, at most
/// `perAddress` from one client address. Past the overall cap the oldest idle connection (one that is not
/// waiting for its answer) is shed to make room; past the per-address cap, or with nothing idle to shed,
/// the new connection gets a fast 503 and is closed.
public final class ConnectionLimiter: Sendable {
    public struct Limits: Sendable {
        public var maxConnections: Int
        /// nil: no per-address cap (the Unix socket, whose peers have no address).
        public var perAddress: Int?
        /// A request's head and body must have arrived this long after the connection opened.
        public var headerTimeout: TimeAmount
        /// After an answer, the next request must have arrived within this (keep-alive).
        public var idleTimeout: TimeAmount

        public init(maxConnections: Int, perAddress: Int?, headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
            self.maxConnections = maxConnections
            self.perAddress = perAddress
            self.headerTimeout = headerTimeout
            self.idleTimeout = idleTimeout
        }
    }

    struct Entry {
        var channel: any Channel
        var address: String?
        var serial: UInt64
        var busy = false
    }

    struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perAddress: [String: Int] = [:]
        var nextSerial: UInt64 = 0
    }

    enum Admission {
        case admitted(shed: (any Channel)?)
        case refused
    }

    let limits: Limits
    /// Peers that speak for many clients (trusted reverse proxies): no per-address cap for them.
    let exemptAddresses: Set<String>
    private let state = Mutex(State())

    public init(limits: Limits, exemptAddresses: Set<String> = []) {
        self.limits = limits
        self.exemptAddresses = exemptAddresses
    }

    public var openConnections: Int { state.withLock { $0.entries.count } }

    /// A handler for each new connection's pipeline (after HTTP decoding).
    public func handler() -> ConnectionGuard { ConnectionGuard(limiter: self) }

    func admit(_ channel: any Channel) -> Admission {
        let peer = channel.remoteAddress?.ipAddress
        let address = limits.perAddress == nil || peer.map(exemptAddresses.contains) == true ? nil : peer
        return state.withLock { state in
            if let address, let cap = limits.perAddress, state.perAddress[address, default: 0] >= cap { return .refused }
            var shed: (any Channel)?
            if state.entries.count >= limits.maxConnections {
                guard let oldest = state.entries.filter({ !$0.value.busy }).min(by: { $0.value.serial < $1.value.serial }) else { return .refused }
                Self.remove(oldest.key, from: &state)
                shed = oldest.value.channel
            }
            state.nextSerial += 1
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, address: address, serial: state.nextSerial)
            if let address { state.perAddress[address, default: 0] += 1 }
            return .admitted(shed: shed)
        }
    }

    func setBusy(_ channel: any Channel, _ busy: Bool) {
        state.withLock { $0.entries[ObjectIdentifier(channel)]?.busy = busy }
    }

    func remove(_ channel: any Channel) {
        state.withLock { Self.remove(ObjectIdentifier(channel), from: &$0) }
    }

    private static func remove(_ id: ObjectIdentifier, from state: inout State) {
        guard let entry = state.entries.removeValue(forKey: id), let address = entry.address else { return }
        state.perAddress[address, default: 1] -= 1
        if state.perAddress[address] == 0 { state.perAddress[address] = nil }
    }
}

/// One connection's guard: admission, the deadline for each request to arrive, and busy/idle for shedding.
public final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    let limiter: ConnectionLimiter
    private var deadline: Scheduled<Void>?
    private var admitted = false

    init(limiter: ConnectionLimiter) {
        self.limiter = limiter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        switch limiter.admit(context.channel) {
        case .refused:
            var head = HTTPResponse(status: .serviceUnavailable, headerFields: [.contentLength: "0", .connection: "close", .retryAfter: String(Failure.retryAfterBusy)])
            for (name, value) in SecurityHeadersMiddleware<GatewayContext>.headers() { head.headerFields[name] = value }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolatedUnsafeUnchecked().whenComplete { _ in context.close(promise: nil) }
        case .admitted(let shed):
            admitted = true
            shed?.close(promise: nil)
            arm(context, limiter.limits.headerTimeout)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if admitted { limiter.remove(context.channel) }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        if admitted { limiter.remove(context.channel) }
        admitted = false
        context.fireChannelInactive()
    }

    /// A client that closes its side has hung up (as nginx reads it, too): close ours, so that a login
    /// still running sees `isActive` false and mints nothing for nobody.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
            limiter.setBusy(context.channel, true)
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            limiter.setBusy(context.channel, false)
            arm(context, limiter.limits.idleTimeout)
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) { context.close(promise: nil) }
    }
}
