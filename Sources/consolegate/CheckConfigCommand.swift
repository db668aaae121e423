import ArgumentParser
import Foundation
import Gateway
import GatewayConfig
import GatewayStore
import Minting

/// `consolegate check-config`: validates a config, that its PAM service exists, and that the broker credential
/// chain finds credentials, without minting anything or calling AWS.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a config file, its PAM service and the broker credentials, without minting anything.",
        discussion: "Exit codes: 0 all good, 2 a problem (each is printed)."
    )

    @Argument(help: "The ConsoleGate YAML config file.")
    var file: String

    @Option(name: .long, help: "Where PAM service files live.")
    var pamDirectory = "/etc/pam.d"

    func run() async throws {
        let configuration = try GatewayConfiguration.forCommand(file)
        print("ok: \(file) is a valid config (strategy \(configuration.aws.strategy.rawValue), \(configuration.access.count) access rules)")
        var problems: [String] = []
        var services = [configuration.pam.service]
        for stepUp in configuration.access.compactMap(\.pamService) where !services.contains(stepUp) { services.append(stepUp) }
        for name in services {
            let service = "\(pamDirectory)/\(name)"
            if FileManager.default.fileExists(atPath: service) {
                print("ok: PAM service \(service) exists")
            } else {
                problems.append("PAM service \(service) does not exist; install one from pam/")
            }
        }
        if configuration.audit.file == nil, !configuration.audit.postgres {
            problems.append("neither audit.file nor audit.postgres is set; consolegate serve needs one")
        }
        let environment = ProcessInfo.processInfo.environment
        var serviceAccount: ServiceAccount?
        do {
            serviceAccount = try ServiceAccount.toBecome(configuration.serviceUser, configFile: file)
        } catch {
            problems.append("serve would refuse to start: \(error)")
        }
        let fileProblems = StartupChecks.fileProblems(configFile: file, configuration: configuration, environment: environment, serviceAccount: serviceAccount)
        if fileProblems.isEmpty { print("ok: no file that consolegate trusts can be changed (or a key read) by others") }
        problems += fileProblems.map { "serve would refuse to start: \($0)" }
        do {
            let endpoints = try Endpoints(partition: configuration.aws.partition, region: configuration.aws.region,
                                          signinOverride: configuration.aws.signinEndpoint, environment: environment)
            let chain = CredentialChain.standard(environment: environment, region: configuration.aws.region, endpoints: endpoints,
                                                 transport: AsyncHTTPTransport(environment: environment), retry: RetryPolicy(), timeout: .seconds(5))
            if let credentials = try await chain.resolve() {
                print("ok: broker credentials found (access key \(credentials.accessKeyId), \(credentials.isTemporary ? "temporary" : "long-term"))")
            } else {
                problems.append("no broker credentials in the chain (\(chain.sources.map(\.name).joined(separator: ", ")))")
            }
        } catch {
            problems.append("\(error)")
        }
        if let settings = configuration.state.postgres {
            do {
                let store = try PostgresStore(settings: settings, environment: environment, logger: .quiet)
                let version = try await store.whileRunning { try await $0.currentSchemaVersion() }
                let state = version == PostgresStore.latestSchemaVersion ? "current" : version == 0 ? "none yet; serve creates it (or run consolegate migrate)"
                    : "\(version), serve migrates it to \(PostgresStore.latestSchemaVersion)"
                print("ok: PostgreSQL \(settings.user)@\(settings.host):\(settings.port)/\(settings.database) answers; schema: \(state)")
            } catch {
                problems.append("PostgreSQL \(settings.host):\(settings.port)/\(settings.database): \(error)")
            }
        }
        guard problems.isEmpty else {
            throw CommandFailure(problems.map { "problem: \($0)" }.joined(separator: "\n"), exitCode: .usage)
        }
    }
}
