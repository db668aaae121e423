import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The production transport: pooled keep-alive connections through async-http-client, honouring
/// `https_proxy`/`http_proxy` and `no_proxy` as the AWS CLI does.
public struct AsyncHTTPTransport: HTTPTransport {
    public static let maximumResponseBytes = 1 << 20

    /// One pooled client per proxy setting for the life of the process, shared by every transport.
    private static let clients = Mutex<[HTTPClient.Configuration.Proxy?: HTTPClient]>([:])

    private let direct: HTTPClient
    private let proxied: HTTPClient?
    private let proxyRules: ProxyRules

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        proxyRules = ProxyRules(environment: environment)
        direct = Self.client(proxy: nil)
        proxied = proxyRules.proxy.map(Self.client(proxy:))
    }

    private static func client(proxy: HTTPClient.Configuration.Proxy?) -> HTTPClient {
        clients.withLock { clients in
            if let existing = clients[proxy] { return existing }
            var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, proxy: proxy)
            configuration.connectionPool = .init(idleTimeout: .seconds(55))
            configuration.httpVersion = .http1Only
            // A refused connection fails at once; RetryPolicy retries it like the AWS SDKs do, instead of
            // the pool retrying silently until the deadline.
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[proxy] = client
            return client
        }
    }

    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers {
            outgoing.headers.add(name: header.name, value: header.value)
        }
        if !request.body.isEmpty || request.method == "POST" {
            var body = ByteBufferAllocator.wiping.buffer(capacity: request.body.count)
            body.writeBytes(request.body)
            outgoing.body = .bytes(body)
        }
        let client = proxyRules.shouldProxy(request.url) ? (proxied ?? direct) : direct
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(Int64(request.timeout.components.seconds) * 1_000_000_000 + request.timeout.components.attoseconds / 1_000_000_000)
        do {
            let response = try await client.execute(outgoing, deadline: deadline)
            let body = try await response.body.collect(upTo: Self.maximumResponseBytes)
            return TransportResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Array(buffer: body)
            )
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout, .getConnectionFromPoolTimeout:
                throw TransportError.timedOut
            default:
                throw TransportError.connectionFailed(String(describing: error))
            }
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw TransportError.responseTooLarge(limit: Self.maximumResponseBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TransportError.connectionFailed(String(describing: error))
        }
    }
}

/// Which requests go through the proxy, following the conventions of curl and the AWS SDKs.
struct ProxyRules: Sendable {
    var proxy: HTTPClient.Configuration.Proxy?
    var exclusions: [String]

    init(environment: [String: String]) {
        func value(_ name: String) -> String? {
            let found = environment[name] ?? environment[name.uppercased()]
            return found?.isEmpty == false ? found : nil
        }
        let raw = value("https_proxy") ?? value("http_proxy")
        if let raw, let url = URL(string: raw.contains("://") ? raw : "http://\(raw)"), let host = url.host {
            var authorization: HTTPClient.Authorization?
            if let user = url.user(percentEncoded: false) {
                authorization = .basic(username: user, password: url.password(percentEncoded: false) ?? "")
            }
            proxy = .server(host: host, port: url.port ?? 80, authorization: authorization)
        }
        exclusions = (value("no_proxy") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    func shouldProxy(_ url: URL) -> Bool {
        guard proxy != nil, let host = url.host(percentEncoded: false)?.lowercased() else { return false }
        for rule in exclusions {
            if rule == "*" { return false }
            let bare = rule.hasPrefix(".") ? String(rule.dropFirst()) : rule
            let hostOnly = bare.split(separator: ":").first.map(String.init) ?? bare
            if host == hostOnly || host.hasSuffix("." + hostOnly) { return false }
        }
        return true
    }
}

extension AsyncHTTPTransport {
    /// An `http+unix://` URL for a request over a Unix socket (the gateway's local socket).
    public static func unixSocketURL(socketPath: String, path: String) -> URL? {
        URL(httpURLWithSocketPath: socketPath, uri: path)
    }
}
