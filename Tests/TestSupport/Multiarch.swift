import Foundation

/// Debian's library directories for this machine's architecture (`x86_64-linux-gnu`, `aarch64-linux-gnu`, …),
/// asked of gcc rather than written into the tests.
public enum Multiarch {
    public static let triplet: String = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        process.arguments = ["-print-multiarch"]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { fatalError("gcc -print-multiarch: gcc is needed to find the PAM modules") }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// pam_wrapper's pam_matrix.so, a PAM module with its own password file.
    public static var pamMatrix: String { "/usr/lib/\(triplet)/pam_wrapper/pam_matrix.so" }
    /// Where Debian installs PAM modules.
    public static var pamModules: String { "/lib/\(triplet)/security" }
}
