import Foundation

/// The current TOTP code (30 s, 6 digits) for a hex secret, from oathtool, as an authenticator app shows it.
public enum OneTimeCode {
    public static func now(secretHex: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/oathtool")
        process.arguments = ["--totp", secretHex]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let code = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        return code
    }
}
