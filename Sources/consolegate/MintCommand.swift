import ArgumentParser
import Authorization
import Foundation
import GatewayConfig
import Minting

/// `consolegate mint`: an operator's tool. It authenticates nobody; whoever runs it holds the broker
/// credentials already.
struct MintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mint",
        abstract: "Mint a console sign-in URL for a user, without authenticating them (operators only).",
        discussion: """
        Exit codes: 0 ok, 2 usage or config error, 3 AWS refused (the message names the AWS error code), \
        4 AWS or the federation endpoint unavailable.
        """
    )

    @OptionGroup var configFile: ConfigFileOption

    @Option(name: .long, help: "The user the session is for (becomes the session name).")
    var user: String

    @OptionGroup var grant: GrantOptions

    @Option(name: .long, help: "A console URL to land on (https://console.aws.amazon.com/…).")
    var destination: String?

    @Option(name: .long, help: "Open the console in this region.")
    var region: String?


    func validate() throws {
        guard !user.isEmpty, !user.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw ValidationError("--user must be a non-empty name on one line")
        }
        if let destination, URL(string: destination)?.host == nil {
            throw ValidationError("--destination must be an absolute console URL")
        }
    }

    func run() async throws {
        do {
            let configuration = try configFile.load()
            let rule = AccessPolicy(configuration: configuration).rules(for: user).first { grant.role == nil || $0.role == grant.role }
            guard let roleArn = grant.role ?? rule?.role else {
                throw CommandFailure("user \(user) matches no access rule in \(configFile.config); name a role with --role", exitCode: .usage)
            }
            let request = MintRequest(
                user: user, roleArn: roleArn,
                destination: try destination.map { try Self.url($0) } ?? rule?.destination,
                region: region, sessionDuration: rule?.sessionDuration
            )
            let transport = AsyncHTTPTransport()
            let minter = try ConsoleMinter(configuration: configuration.aws, environment: ProcessInfo.processInfo.environment, transport: transport)
            let output: String
            if grant.format == .credentialProcess {
                output = OutputFormat.renderCredentialProcess(try await minter.credentials(for: request))
            } else {
                output = OutputFormat.render(try await minter.mintURL(for: request), as: grant.format)
            }
            print(output)
        } catch {
            throw CommandFailure(error)
        }
    }

    static func url(_ text: String) throws -> URL {
        guard let url = URL(string: text) else { throw CommandFailure("\(text) is not a URL", exitCode: .usage) }
        return url
    }
}
