import AWSSigV4
import Foundation
import GatewayConfig

/// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS IRSA and the like): AssumeRoleWithWebIdentity.
public struct WebIdentityCredentialSource: CredentialSource {
    let environment: [String: String]
    let sts: STSClient
    public var name: String { "web identity" }

    public init(environment: [String: String], sts: STSClient) {
        self.environment = environment
        self.sts = sts
    }

    public func resolve() async throws -> AWSCredentials? {
        let tokenFile = environment.nonEmpty("AWS_WEB_IDENTITY_TOKEN_FILE")
        let roleArn = environment.nonEmpty("AWS_ROLE_ARN")
        guard tokenFile != nil || roleArn != nil else { return nil }
        guard let tokenFile, let roleArn else {
            throw MintingError.brokerCredentials(source: name, problem: "set both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN")
        }
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw MintingError.brokerCredentials(source: name, problem: "cannot read a token from \(tokenFile)")
        }
        let sessionName = environment.nonEmpty("AWS_ROLE_SESSION_NAME") ?? "consolegate-\(Int(Date().timeIntervalSince1970))"
        return try await sts.assumeRoleWithWebIdentity(roleArn: roleArn, sessionName: sessionName, webIdentityToken: token, durationSeconds: nil).credentials
    }
}

