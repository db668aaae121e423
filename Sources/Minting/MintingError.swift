/// Everything that can stop a console URL from being minted, each saying what to do.
public enum MintingError: Error, Sendable, Equatable {
    /// AWS answered and refused (an AWS error code such as AccessDenied or ValidationError).
    case awsRefused(operation: String, code: String, message: String)
    /// The console federation endpoint refused the session (it answers a bare HTTP 400).
    case federationRefused(status: Int, detail: String)
    /// No answer that can be used: connection failure, timeout, or 5xx after every retry.
    case upstreamUnavailable(operation: String, reason: String)
    /// AWS answered something ConsoleGate cannot read.
    case malformedResponse(operation: String, detail: String)
    /// No broker credentials could be found in any source of the chain.
    case noBrokerCredentials(tried: [String])
    /// A broker credential source is configured but broken.
    case brokerCredentials(source: String, problem: String)
    /// The request itself is not acceptable (a Destination outside the console, a bad region, …).
    case invalidRequest(String)

    public var isUpstreamUnavailable: Bool {
        if case .upstreamUnavailable = self { return true }
        return false
    }
}

extension MintingError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .awsRefused(let operation, let code, let message):
            return "AWS refused \(operation): \(code): \(message)"
        case .federationRefused(let status, let detail):
            return "the console federation endpoint refused the session (HTTP \(status)): \(detail)"
        case .upstreamUnavailable(let operation, let reason):
            return "AWS is unavailable for \(operation): \(reason); try again later"
        case .malformedResponse(let operation, let detail):
            return "unexpected answer to \(operation): \(detail)"
        case .noBrokerCredentials(let tried):
            return "no AWS credentials for the broker; looked in: \(tried.joined(separator: ", ")). Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or run where a role is attached"
        case .brokerCredentials(let source, let problem):
            return "broker credentials from \(source): \(problem)"
        case .invalidRequest(let message):
            return message
        }
    }
}
