import AWSSigV4
import GatewayConfig

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialSource: CredentialSource {
    let environment: [String: String]
    public var name: String { "environment" }

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func resolve() async throws -> AWSCredentials? {
        let keyId = environment.nonEmpty("AWS_ACCESS_KEY_ID")
        let secret = environment.nonEmpty("AWS_SECRET_ACCESS_KEY")
        switch (keyId, secret) {
        case (nil, nil):
            return nil
        case (let keyId?, let secret?):
            let token = environment.nonEmpty("AWS_SESSION_TOKEN")
            return AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token)
        default:
            throw MintingError.brokerCredentials(source: name, problem: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
        }
    }
}
