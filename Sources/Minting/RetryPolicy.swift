import Foundation
import Synchronization

/// The AWS SDKs' "standard" retry mode: three attempts, full-jitter exponential backoff capped at 20 s,
/// and a retry quota so a failing service is not hammered.
public final class RetryPolicy: Sendable {
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    ]
    public static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "IDPCommunicationError",
    ]
    static let quotaCapacity = 500
    static let retryCost = 5
    static let timeoutRetryCost = 10

    public let maxAttempts: Int
    public let maxBackoff: Duration
    private let jitter: @Sendable () -> Double
    private let tokens = Mutex(RetryPolicy.quotaCapacity)

    /// `jitter` returns a number in [0, 1); tests pass `{ 0 }` to retry without waiting.
    public init(maxAttempts: Int = 3, maxBackoff: Duration = .seconds(20), jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.maxAttempts = maxAttempts
        self.maxBackoff = maxBackoff
        self.jitter = jitter
    }

    public enum Failure: Sendable {
        case status(Int, code: String?)
        case timedOut
        case connection
    }

    public static func isRetryable(_ failure: Failure) -> Bool {
        switch failure {
        case .timedOut, .connection:
            return true
        case .status(let status, let code):
            if let code, throttlingCodes.contains(code) || transientCodes.contains(code) { return true }
            return [500, 502, 503, 504].contains(status)
        }
    }

    /// Backoff before attempt `attempt + 1`, after `attempt` (1-based) failed.
    func delay(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(Double(1 << min(attempt - 1, 16)), Double(maxBackoff.components.seconds))
        return .milliseconds(Int(jitter() * ceiling * 1000))
    }

    /// Takes retry tokens; false when the quota is spent and the failure should be returned as it is.
    func acquireRetryToken(timedOut: Bool) -> Bool {
        let cost = timedOut ? Self.timeoutRetryCost : Self.retryCost
        return tokens.withLock { available in
            guard available >= cost else { return false }
            available -= cost
            return true
        }
    }

    func recordSuccess() {
        tokens.withLock { $0 = min(Self.quotaCapacity, $0 + 1) }
    }

    /// Runs `attempt` until it succeeds, fails for good, or attempts run out.
    /// `classify` says whether a thrown error is retryable and how.
    func run<T: Sendable>(
        _ attempt: () async throws -> T,
        classify: (Error) -> Failure?
    ) async throws -> T {
        var number = 1
        while true {
            do {
                let value = try await attempt()
                recordSuccess()
                return value
            } catch {
                guard number < maxAttempts, let failure = classify(error), Self.isRetryable(failure) else { throw error }
                var timedOut = false
                if case .timedOut = failure { timedOut = true }
                guard acquireRetryToken(timedOut: timedOut) else { throw error }
                try await Task.sleep(for: delay(afterAttempt: number))
                number += 1
            }
        }
    }
}
