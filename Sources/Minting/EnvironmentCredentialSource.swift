import AWSSigV4

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialSource: CredentialSource {
    let environment: [String: String]
    public var name: String { "environment" }

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func resolve() async throws -> AWSCredentials? {
        let keyId = environment["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (keyId, secret) {
        case (nil, nil):
            return nil
        case (let keyId?, let secret?):
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: token)
        default:
            throw MintingError.brokerCredentials(source: name, problem: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
        }
    }
}
