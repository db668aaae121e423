import Foundation
import GatewayConfig

/// What every replica of a gateway must agree on: the guessing budget (lockout), the web logins waiting for
/// a role choice, and the one-time codes already used. Each call is one atomic decision, whichever backend
/// holds it; a backend that cannot decide in time throws `StateUnavailable`, and the login fails closed.
public protocol GatewayState: Sendable {
    /// Decides whether this attempt may run PAM, and if so takes its slots. `device` is the verified device
    /// id of a trusted client of this user: its guesses count against the device instead of the name, so a
    /// lock on the name imposed from elsewhere does not shut the user's own device out. A locked device is
    /// no longer trusted and shares the name's budget.
    func admit(user: String, address: String, device: String?) async throws -> Admission
    /// Gives the slots back. A failure is counted against every budget key and may lock it; a success clears
    /// the name's (or device's) failures, not the address's, and not a running lock. Returns how many keys
    /// this failure locked.
    @discardableResult
    func finish(_ ticket: AttemptTicket, succeeded: Bool) async throws -> Int
    /// Gives the slots back without counting anything: the attempt never reached PAM.
    func withdraw(_ ticket: AttemptTicket) async throws
    /// For operators (`consolegate unlock`): forgets the key's failures and ends its lock. Returns whether
    /// there was anything to forget.
    func unlock(_ key: LockoutKey) async throws -> Bool

    /// Keeps a web login that waits for its user to pick a role, for `lifetime`.
    func holdRoleChoice(_ choice: RoleChoice, for lifetime: Duration) async throws
    /// The waiting login with this token digest, if it has not expired; either way it is gone after this
    /// call, on every replica, so a token is used at most once.
    func takeRoleChoice(tokenDigest: String) async throws -> RoleChoice?

    /// Records a one-time code's use (a keyed digest of user and code) for `validity`. False when the code
    /// was already used within that time, on any replica.
    func claimOneTimeCode(digest: String, validity: Duration) async throws -> Bool

    /// Whether decisions can be made right now, with the reason when not (for `/healthz`).
    func health() async -> StateHealth
}

/// What the guessing budget is counted against.
public enum LockoutKey: Hashable, Sendable, CustomStringConvertible {
    case user(String)
    case address(String)
    /// A browser or `consolegate login` client that has signed in as its user before (OWASP device cookies).
    case device(String)

    public var description: String {
        switch self {
        case .user(let name): "user:\(name)"
        case .address(let address): "address:\(address)"
        case .device(let id): "device:\(id)"
        }
    }

    init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "user": self = .user(parts[1])
        case "address": self = .address(parts[1])
        case "device": self = .device(parts[1])
        default: return nil
        }
    }
}

/// An admitted attempt's hold on the budget; hand it back to `finish` or `withdraw` exactly once.
public struct AttemptTicket: Sendable, Equatable {
    public let id: UUID
    /// The keys whose budget this attempt spends: the trusted device or the user name, and the address.
    public let budget: [LockoutKey]
    /// The keys whose concurrency this attempt occupies: the user name and the address.
    public let inFlight: [LockoutKey]
}

public enum Admission: Sendable, Equatable {
    case admitted(AttemptTicket)
    /// Locked after too many failures.
    case locked
    /// The budget is taken by attempts still running, or too many run at once for this name or address.
    case busy
}

/// A web login waiting for its user to pick a role. Only digests of the token and of the browser's CSRF
/// token are kept, so whoever reads the store cannot finish someone else's login.
public struct RoleChoice: Sendable, Equatable {
    public var tokenDigest: String
    public var user: String
    public var csrfDigest: String
    public var client: String

    public init(tokenDigest: String, user: String, csrfDigest: String, client: String) {
        self.tokenDigest = tokenDigest
        self.user = user
        self.csrfDigest = csrfDigest
        self.client = client
    }
}

public enum StateHealth: Sendable, Equatable {
    case ok
    case degraded(String)
}

/// The shared state could not decide in time; the login answers 503 and nothing is minted.
public struct StateUnavailable: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
