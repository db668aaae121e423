import AWSSigV4
import Foundation
import Metrics

/// Sends one AWS operation: signs each attempt afresh, retries in the standard mode, and turns every
/// failure into a `MintingError`.
struct AWSCall: Sendable {
    var transport: any HTTPTransport
    var retry: RetryPolicy
    var timeout: Duration

    /// An HTTP answer that is not a success, with the AWS error code when the body names one.
    struct Refusal: Error {
        var status: Int
        var code: String?
        var message: String
    }

    func perform(
        operation: String,
        request: TransportRequest,
        signer: SigV4Signer? = nil,
        credentials: (any CredentialProvider)? = nil,
        parseError: @escaping @Sendable (TransportResponse) -> (code: String, message: String)?,
        refused: ((Refusal) -> MintingError)? = nil
    ) async throws -> TransportResponse {
        let started = ContinuousClock.now
        defer {
            Timer(label: "consolegate_upstream_request_duration_seconds", dimensions: [("operation", operation)])
                .record(duration: ContinuousClock.now - started)
        }
        do {
            return try await retry.run({
                var outgoing = request
                outgoing.timeout = timeout
                if let signer, let credentials {
                    let resolved = try await credentials.credentials()
                    let signing = SigningRequest(method: request.method, url: request.url, headers: request.headers, body: request.body)
                    outgoing.headers += signer.signingHeaders(for: signing, credentials: resolved)
                }
                let response = try await transport.send(outgoing)
                guard (200..<300).contains(response.status) else {
                    let parsed = parseError(response)
                    throw Refusal(status: response.status, code: parsed?.code, message: parsed?.message ?? "HTTP \(response.status)")
                }
                return response
            }, classify: Self.classify)
        } catch let refusal as Refusal {
            if refusal.status >= 500 && (refusal.code == nil || !RetryPolicy.throttlingCodes.contains(refusal.code!)) {
                throw MintingError.upstreamUnavailable(operation: operation, reason: "HTTP \(refusal.status)\(refusal.code.map { " \($0)" } ?? "") after \(retry.maxAttempts) attempts")
            }
            throw refused?(refusal) ?? .awsRefused(operation: operation, code: refusal.code ?? "HTTP\(refusal.status)", message: refusal.message)
        } catch let error as TransportError {
            throw MintingError.upstreamUnavailable(operation: operation, reason: Self.describe(error))
        }
    }

    static func classify(_ error: Error) -> RetryPolicy.Failure? {
        switch error {
        case let refusal as Refusal: return .status(refusal.status, code: refusal.code)
        case TransportError.timedOut: return .timedOut
        case TransportError.connectionFailed: return .connection
        default: return nil
        }
    }

    static func describe(_ error: TransportError) -> String {
        switch error {
        case .timedOut: return "no answer before the deadline"
        case .connectionFailed(let detail): return "cannot connect (\(detail))"
        case .responseTooLarge(let limit): return "answer larger than \(limit) bytes"
        }
    }
}

/// What every AWS protocol client holds: where the service is, how to sign for it, and with what.
struct AWSService: Sendable {
    let call: AWSCall
    let endpoint: URL
    let signer: SigV4Signer
    let credentials: (any CredentialProvider)?

    init(name: String, endpoint: URL, region: String, transport: any HTTPTransport, retry: RetryPolicy, timeout: Duration, credentials: (any CredentialProvider)?) {
        self.call = AWSCall(transport: transport, retry: retry, timeout: timeout)
        self.endpoint = endpoint
        self.signer = SigV4Signer(region: region, service: name)
        self.credentials = credentials
    }

    /// POSTs one operation, signed with the broker's credentials when `signed`.
    func post(
        operation: String, headers: [(name: String, value: String)], body: [UInt8], signed: Bool,
        parseError: @escaping @Sendable (TransportResponse) -> (code: String, message: String)?
    ) async throws -> TransportResponse {
        let request = TransportRequest(method: "POST", url: endpoint, headers: headers, body: body, timeout: call.timeout)
        return try await call.perform(operation: operation, request: request, signer: signed ? signer : nil,
                                      credentials: signed ? credentials : nil, parseError: parseError)
    }
}

extension AWSService {
    /// One operation of a Query-protocol service (STS, IAM): a form-encoded POST, an XML answer.
    func query(operation: String, version: String, parameters: [(String, String)], signed: Bool) async throws -> XMLFields {
        let body = FormEncoding.encode([("Action", operation), ("Version", version)] + parameters)
        let response = try await post(
            operation: operation, headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: Array(body.utf8), signed: signed, parseError: Self.parseQueryError
        )
        guard let fields = XMLFields(response.body) else {
            throw MintingError.malformedResponse(operation: operation, detail: "the answer is not XML")
        }
        return fields
    }

    @Sendable static func parseQueryError(_ response: TransportResponse) -> (code: String, message: String)? {
        guard let fields = XMLFields(response.body), let code = fields.first(endingWith: "Error/Code") else { return nil }
        return (code, fields.first(endingWith: "Error/Message") ?? "")
    }
}

/// Form encoding as AWS Query APIs and the federation endpoint expect it (`application/x-www-form-urlencoded`).
enum FormEncoding {
    static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// RFC 3986: the unreserved characters pass, every other byte is %XX, as SigV4 encodes.
    static func escape(_ value: String) -> String {
        URIEncoding.encode(value)
    }
}
