import Testing

/// pam_wrapper 1.1.4 gives each process a `/tmp/pam.X` folder chosen by `lstat` then `mkdir`, and removes
/// folders whose owner it takes for dead: two wrapped PAM transactions that start at the same moment in
/// different processes can lose each other's service files, and a right password fails. Suites whose
/// daemons or monitors run under pam_wrapper take this trait and so run one at a time with each other
/// (each is `.serialized` within); suites on the host's own PAM do not need it.
public struct PAMWrapperTurn: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        test.isSuite ? self : nil
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await Turns.shared.acquire()
        do {
            try await function()
        } catch {
            await Turns.shared.release()
            throw error
        }
        await Turns.shared.release()
    }

    /// First come, first served: one holder at a time.
    actor Turns {
        static let shared = Turns()
        private var held = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            guard held else {
                held = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty {
                held = false
            } else {
                waiting.removeFirst().resume()
            }
        }
    }
}

extension Trait where Self == PAMWrapperTurn {
    /// Runs the suite while no other pam_wrapper suite runs.
    public static var pamWrapperTurn: Self { PAMWrapperTurn() }
}
