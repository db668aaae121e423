import ArgumentParser
import Foundation
import PAMAuth

/// The privilege-separated PAM helper: started by ConsoleGate itself with a pipe on stdin/stdout, never by hand.
struct PAMHelperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: PAMAuthenticator.helperSubcommand,
        abstract: "Internal: runs one PAM transaction for the calling ConsoleGate process.",
        shouldDisplay: false
    )

    func run() throws {
        Foundation.exit(PAMHelper.run())
    }
}
