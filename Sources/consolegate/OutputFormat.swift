import ArgumentParser
import Foundation
import Minting

/// How a minted session is printed: the URL alone, JSON, or the AWS CLI's credential_process JSON.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case url
    case json
    case credentialProcess = "credential-process"

    static func render(_ minted: MintedURL, as format: OutputFormat) -> String {
        switch format {
        case .url, .credentialProcess:
            return minted.url.absoluteString
        case .json:
            return jsonLine([
                "url": minted.url.absoluteString,
                "expires_at": minted.expiresAt.formatted(.iso8601),
                "role_arn": minted.roleArn,
                "session_name": minted.sessionName,
            ])
        }
    }

    /// The credential_process contract: Version 1 with the keys and their expiry.
    static func renderCredentialProcess(_ session: RoleSession) -> String {
        var object: [String: Any] = [
            "Version": 1,
            "AccessKeyId": session.credentials.accessKeyId,
            "SecretAccessKey": session.credentials.secretAccessKey,
        ]
        if let token = session.credentials.sessionToken { object["SessionToken"] = token }
        if let expiration = session.credentials.expiration { object["Expiration"] = expiration.formatted(.iso8601) }
        return jsonLine(object)
    }

    static func jsonLine(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
