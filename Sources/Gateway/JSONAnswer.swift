import Foundation
import GatewayAPI
import GatewayStore
import Hummingbird
import HTTPTypes
import Minting

/// JSON answers: the `GatewayAPI` types, encoded one way.
enum JSONAnswer {
    static func encode(_ status: HTTPResponse.Status, _ answer: some Encodable) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: APIJSON.encode(answer))))
    }

    /// `/healthz`: 200 while logins can be decided, 503 with the reason when not, so that a load balancer
    /// drains this replica.
    static func health(_ health: StateHealth) -> Response {
        switch health {
        case .ok: encode(.ok, HealthAnswer(status: "ok"))
        case .degraded(let reason): encode(.serviceUnavailable, HealthAnswer(status: "degraded", reason: reason))
        }
    }

    /// The grant, and for password logins a device token to send back next time (`device_token`).
    static func grant(_ grant: Grant, deviceToken: String? = nil) -> Response {
        switch grant {
        case .url(let minted): encode(.ok, URLAnswer(minted, deviceToken: deviceToken))
        case .credentials(let session): encode(.ok, CredentialProcessOutput(session, deviceToken: deviceToken))
        }
    }
}

extension URLAnswer {
    public init(_ minted: MintedURL, deviceToken: String? = nil) {
        self.init(url: minted.url.absoluteString, expiresAt: minted.expiresAt.formatted(.iso8601), roleArn: minted.roleArn,
                  sessionName: minted.sessionName, deviceToken: deviceToken)
    }
}

extension CredentialProcessOutput {
    public init(_ session: RoleSession, deviceToken: String? = nil) {
        let credentials = session.credentials
        self.init(accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken,
                  expiration: credentials.expiration?.formatted(.iso8601), deviceToken: deviceToken)
    }
}
