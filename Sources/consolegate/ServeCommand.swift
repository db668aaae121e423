import ArgumentParser
import Foundation
import Gateway
import GatewayConfig
import Logging

/// `consolegate serve`: the gateway daemon.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway: the JSON API over TCP and the local socket for `consolegate url`."
    )

    @OptionGroup var configFile: ConfigFileOption

    func run() async throws {
        let configuration = try configFile.load()
        LoggingSystem.bootstrap(JSONLogHandler.init)
        var logger = Logger(label: "consolegate")
        logger.logLevel = .info
        do {
            try await GatewayServer.run(configuration: configuration, configFile: configFile.config, environment: ProcessInfo.processInfo.environment, logger: logger)
        } catch let error as GatewayStartupError {
            throw CommandFailure(error.description, exitCode: .usage)
        } catch let error as MonitorExited {
            throw CommandFailure(error.description, exitCode: .upstreamUnavailable)
        } catch {
            throw CommandFailure(error)
        }
    }
}
