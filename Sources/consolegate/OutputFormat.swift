import ArgumentParser
import Foundation
import Gateway
import GatewayAPI
import GatewayStore
import Minting

/// How a minted session is printed: the URL alone, JSON, or the AWS CLI's credential_process JSON.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case url
    case json
    case credentialProcess = "credential-process"

    static func render(_ minted: MintedURL, as format: OutputFormat) -> String {
        format == .json ? jsonLine(URLAnswer(minted)) : minted.url.absoluteString
    }

    static func renderCredentialProcess(_ session: RoleSession) -> String {
        jsonLine(CredentialProcessOutput(session))
    }

    /// One line, whatever the values hold (see `JSONLine`).
    static func jsonLine(_ answer: some Encodable) -> String {
        String(decoding: JSONLine.escapingLineBreakers(APIJSON.encode(answer)), as: UTF8.self)
    }
}
