import GatewayConfig

/// Who may take which role: the config's access rules applied to a user and their NSS groups.
public struct AccessPolicy: Sendable {
    let configuration: GatewayConfiguration
    public let directory: any UserDirectory

    public init(configuration: GatewayConfiguration, directory: any UserDirectory = SystemUserDirectory()) {
        self.configuration = configuration
        self.directory = directory
    }

    /// The rules granting this user a role, in file order; the first is the user's default.
    public func rules(for user: String) -> [AccessRule] {
        Self.rules(configuration.access, for: user, groups: directory.groups(of: user) ?? [])
    }

    /// The rules that name the user or one of their groups, in file order, each role once.
    public static func rules(_ access: [AccessRule], for user: String, groups: [String]) -> [AccessRule] {
        var seen = Set<String>()
        return access.filter { rule in
            (rule.users.contains(user) || rule.groups.contains(where: groups.contains)) && seen.insert(rule.role).inserted
        }
    }

    public enum Decision: Sendable, Equatable {
        case granted(AccessRule)
        /// The user may take no role at all.
        case noRole
        /// The user asked for a role that is not theirs; `allowed` lists those that are.
        case roleNotAllowed(allowed: [String])
    }

    public func decide(user: String, requestedRole: String?) -> Decision {
        Self.decide(rules: rules(for: user), requestedRole: requestedRole)
    }

    /// The same decision on rules already looked up (`rules(for:)`), without asking NSS again.
    public static func decide(rules allowed: [AccessRule], requestedRole: String?) -> Decision {
        guard let first = allowed.first else { return .noRole }
        guard let requestedRole else { return .granted(first) }
        guard let match = allowed.first(where: { $0.role == requestedRole }) else { return .roleNotAllowed(allowed: allowed.map(\.role)) }
        return .granted(match)
    }
}
