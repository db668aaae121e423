import AWSSigV4
import Foundation
import GatewayConfig

/// A profile from the shared files (`~/.aws/credentials`, `~/.aws/config`): static keys or `credential_process`.
public struct ProfileCredentialSource: CredentialSource {
    let environment: [String: String]
    public var name: String { "profile \(profileName)" }

    public init(environment: [String: String]) {
        self.environment = environment
    }

    var profileName: String {
        environment.nonEmpty("AWS_PROFILE") ?? "default"
    }

    var home: String { environment["HOME"] ?? NSHomeDirectory() }

    public var credentialsFile: String { environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials" }
    public var configFile: String { environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config" }

    public func resolve() async throws -> AWSCredentials? {
        // The credentials file names profiles plainly; the config file as `profile NAME` (except `default`).
        var settings = try INIFile.load(credentialsFile)?[profileName] ?? [:]
        if let config = try INIFile.load(configFile) {
            let section = profileName == "default" ? "default" : "profile \(profileName)"
            for (key, value) in config[section] ?? [:] where settings[key] == nil {
                settings[key] = value
            }
        }
        if let keyId = settings["aws_access_key_id"], let secret = settings["aws_secret_access_key"] {
            return AWSCredentials(accessKeyId: keyId, secretAccessKey: secret, sessionToken: settings["aws_session_token"])
        }
        if let command = settings["credential_process"] {
            return try await CredentialProcess(command: command, source: name).run()
        }
        if environment.nonEmpty("AWS_PROFILE") != nil {
            // An explicitly named profile that yields nothing is a mistake worth reporting.
            throw MintingError.brokerCredentials(source: name, problem: "the profile has neither aws_access_key_id/aws_secret_access_key nor credential_process in \(credentialsFile) or \(configFile)")
        }
        return nil
    }
}

/// The small INI dialect of the AWS shared files: `[section]`, `key = value`, `#`/`;` comments.
enum INIFile {
    static func load(_ path: String) throws -> [String: [String: String]]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MintingError.brokerCredentials(source: path, problem: "cannot be read")
        }
        return parse(text)
    }

    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}

/// Runs a `credential_process` command and reads its Version 1 JSON.
struct CredentialProcess {
    static let timeout: Duration = .seconds(60)

    var command: String
    var source: String

    func run() async throws -> AWSCredentials {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw MintingError.brokerCredentials(source: source, problem: "credential_process cannot start: \(error.localizedDescription)")
        }
        let watchdog = Task {
            try await Task.sleep(for: Self.timeout)
            process.terminate()
        }
        defer { watchdog.cancel() }
        // Reading to the end and waiting block, so they run on a Dispatch thread, not the cooperative pool.
        let (data, status) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (data, process.terminationStatus))
            }
        }
        guard status == 0 else {
            throw MintingError.brokerCredentials(source: source, problem: "credential_process exited with status \(status)")
        }
        return try Self.decode(data, source: source)
    }

    struct Output: Decodable {
        var Version: Int
        var AccessKeyId: String
        var SecretAccessKey: String
        var SessionToken: String?
        var Expiration: String?
    }

    static func decode(_ data: Data, source: String) throws -> AWSCredentials {
        guard let output = try? JSONDecoder().decode(Output.self, from: data), output.Version == 1 else {
            throw MintingError.brokerCredentials(source: source, problem: "credential_process did not print Version 1 JSON with AccessKeyId and SecretAccessKey")
        }
        var expiration: Date?
        if let text = output.Expiration {
            guard let parsed = ISO8601.parse(text) else {
                throw MintingError.brokerCredentials(source: source, problem: "credential_process printed an Expiration that is not ISO 8601")
            }
            expiration = parsed
        }
        return AWSCredentials(accessKeyId: output.AccessKeyId, secretAccessKey: output.SecretAccessKey, sessionToken: output.SessionToken, expiration: expiration)
    }
}
