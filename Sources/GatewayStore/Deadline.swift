import Synchronization

/// Answers within a time limit even when the work does not end: the work goes on in its own task (and is
/// cancelled), but the caller is released at the deadline. A task group would wait for a child that ignores
/// cancellation, such as a query on a database that stopped answering.
enum Deadline {
    struct Passed: Error {}

    /// Whoever finishes first, the work or the timer, resumes the caller; the other finds nothing to resume.
    private final class Race<T: Sendable>: Sendable {
        let waiter = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let timer = Mutex<Task<Void, Never>?>(nil)

        func finish(_ result: Result<T, any Error>) -> Bool {
            guard let continuation = waiter.withLock({ $0.take() }) else { return false }
            continuation.resume(with: result)
            return true
        }
    }

    static func run<T: Sendable>(within limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        return try await withCheckedThrowingContinuation { continuation in
            race.waiter.withLock { $0 = continuation }
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                if race.finish(result) { race.timer.withLock { $0 }?.cancel() }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled, race.finish(.failure(Passed())) else { return }
                work.cancel()
            }
            race.timer.withLock { $0 = timer }
        }
    }
}
