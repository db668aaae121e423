import AWSSigV4
import Foundation
import GatewayConfig

/// The JSON that ECS, EKS Pod Identity and EC2 instance metadata serve.
struct ContainerCredentialsDocument: Decodable {
    var AccessKeyId: String
    var SecretAccessKey: String
    var Token: String?
    var Expiration: String?
    var Code: String?

    static func decode(_ body: [UInt8], source: String) throws -> AWSCredentials {
        guard let document = try? JSONDecoder().decode(Self.self, from: Data(body)) else {
            throw MintingError.brokerCredentials(source: source, problem: "the answer is not a credentials document")
        }
        if let code = document.Code, code != "Success" {
            throw MintingError.brokerCredentials(source: source, problem: "the service answered \(code)")
        }
        return AWSCredentials(accessKeyId: document.AccessKeyId, secretAccessKey: document.SecretAccessKey,
                              sessionToken: document.Token, expiration: document.Expiration.flatMap(ISO8601.parse))
    }
}

/// ECS task roles and EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`, with an
/// optional authorization token (`AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`).
public struct ContainerCredentialSource: CredentialSource {
    static let ecsHost = "169.254.170.2"

    let environment: [String: String]
    let transport: any HTTPTransport
    public var name: String { "container credentials" }

    public init(environment: [String: String], transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func resolve() async throws -> AWSCredentials? {
        let url: URL
        if let relative = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            guard let resolved = URL(string: "http://\(Self.ecsHost)\(relative)") else {
                throw MintingError.brokerCredentials(source: name, problem: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a path")
            }
            url = resolved
        } else if let full = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            guard let resolved = URL(string: full), Self.isAllowed(resolved) else {
                throw MintingError.brokerCredentials(source: name, problem: "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or the ECS/EKS link-local address")
            }
            url = resolved
        } else {
            return nil
        }
        var headers: [(name: String, value: String)] = []
        if let tokenFile = environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw MintingError.brokerCredentials(source: name, problem: "cannot read \(tokenFile)")
            }
            headers.append(("Authorization", token.trimmingCharacters(in: .whitespacesAndNewlines)))
        } else if let token = environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            headers.append(("Authorization", token))
        }
        let response: TransportResponse
        do {
            response = try await transport.send(TransportRequest(method: "GET", url: url, headers: headers, timeout: .seconds(5)))
        } catch {
            throw MintingError.brokerCredentials(source: name, problem: "no answer from \(url.absoluteString)")
        }
        guard response.status == 200 else {
            throw MintingError.brokerCredentials(source: name, problem: "\(url.absoluteString) answered HTTP \(response.status)")
        }
        return try ContainerCredentialsDocument.decode(response.body, source: name)
    }

    /// The SDKs' rule: plain http only to loopback or the ECS/EKS link-local addresses.
    static func isAllowed(_ url: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), let host = url.host(percentEncoded: false)?.lowercased() else { return false }
        if scheme == "https" { return true }
        guard scheme == "http" else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
            || host == ecsHost || host == "169.254.170.23" || host == "fd00:ec2::23" || host == "[fd00:ec2::23]"
    }
}

