import Foundation

extension MintedURL {
    /// `{"url", "expires_at", "role_arn", "session_name"}`, as `--format json` and the API print it.
    public var jsonObject: [String: Any] {
        ["url": url.absoluteString, "expires_at": expiresAt.formatted(.iso8601), "role_arn": roleArn, "session_name": sessionName]
    }
}

extension RoleSession {
    /// The AWS CLI's `credential_process` output, Version 1.
    public var credentialProcessObject: [String: Any] {
        var object: [String: Any] = ["Version": 1, "AccessKeyId": credentials.accessKeyId, "SecretAccessKey": credentials.secretAccessKey]
        if let token = credentials.sessionToken { object["SessionToken"] = token }
        if let expiration = credentials.expiration { object["Expiration"] = expiration.formatted(.iso8601) }
        return object
    }
}
