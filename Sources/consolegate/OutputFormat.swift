import ArgumentParser
import Foundation
import Gateway
import GatewayStore
import Minting

/// How a minted session is printed: the URL alone, JSON, or the AWS CLI's credential_process JSON.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case url
    case json
    case credentialProcess = "credential-process"

    static func render(_ minted: MintedURL, as format: OutputFormat) -> String {
        format == .json ? jsonLine(minted.jsonObject) : minted.url.absoluteString
    }

    static func renderCredentialProcess(_ session: RoleSession) -> String {
        jsonLine(session.credentialProcessObject)
    }

    /// One line, whatever the values hold (see `JSONLine`).
    static func jsonLine(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: JSONLine.escapingLineBreakers(data), as: UTF8.self)
    }
}
