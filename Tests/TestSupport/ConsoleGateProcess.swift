import Foundation

/// Runs the built `consolegate` binary as a user would.
public struct ConsoleGateProcess {
    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["CONSOLEGATE_BIN"] { return path }
        // `swift test` runs from the package root; the binary sits beside the test bundle.
        return Bundle.main.bundleURL.appendingPathComponent("consolegate").path
    }

    public static func run(_ arguments: [String], environment: [String: String], stdin: String = "") async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        // Blocking reads and waits run on Dispatch threads: on the two-thread cooperative pool of a
        // 2-core machine they would starve every other test.
        let (stdoutData, stderrData) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let group = DispatchGroup()
                nonisolated(unsafe) var errData = Data()
                DispatchQueue.global().async(group: group) { errData = errors.fileHandleForReading.readDataToEndOfFile() }
                let outData = output.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                process.waitUntilExit()
                continuation.resume(returning: (outData, errData))
            }
        }
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// In a directory of its own: `serve` and `check-config` refuse a config in a directory others can write (/tmp).
    public static func writeConfig(_ yaml: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let path = directory.appendingPathComponent("config.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
