import AWSSigV4
import Foundation
import GatewayConfig

/// EC2 instance profile credentials through IMDSv2 (session token first, then the role's credentials).
public struct InstanceMetadataCredentialSource: CredentialSource {
    static let defaultEndpoint = "http://169.254.169.254"
    static let tokenTTL = "21600"

    let environment: [String: String]
    let transport: any HTTPTransport
    public var name: String { "EC2 instance metadata" }

    public init(environment: [String: String], transport: any HTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    public func resolve() async throws -> AWSCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let base = (environment.nonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? Self.defaultEndpoint)
            .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        // Off EC2 nothing answers: that means "not here", not an error.
        let token: TransportResponse
        do {
            token = try await send("PUT", "\(base)/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", Self.tokenTTL)])
        } catch {
            return nil
        }
        guard token.status == 200 else { return nil }
        let session = [("X-aws-ec2-metadata-token", token.bodyText)]
        let roles = try await send("GET", "\(base)/latest/meta-data/iam/security-credentials/", headers: session)
        guard roles.status == 200, let role = roles.bodyText.split(whereSeparator: \.isNewline).first else {
            throw MintingError.brokerCredentials(source: name, problem: "the instance has no IAM role attached (HTTP \(roles.status))")
        }
        let document = try await send("GET", "\(base)/latest/meta-data/iam/security-credentials/\(role)", headers: session)
        guard document.status == 200 else {
            throw MintingError.brokerCredentials(source: name, problem: "credentials for role \(role) answered HTTP \(document.status)")
        }
        return try ContainerCredentialsDocument.decode(document.body, source: name)
    }

    private func send(_ method: String, _ address: String, headers: [(name: String, value: String)]) async throws -> TransportResponse {
        guard let url = URL(string: address) else {
            throw MintingError.brokerCredentials(source: name, problem: "AWS_EC2_METADATA_SERVICE_ENDPOINT is not a URL")
        }
        do {
            return try await transport.send(TransportRequest(method: method, url: url, headers: headers, timeout: .seconds(1)))
        } catch {
            throw MintingError.brokerCredentials(source: name, problem: "no answer from the instance metadata service")
        }
    }
}
