import Foundation
import Minting

/// Ends people's console and credential sessions on a managed role, through the role's inline policy
/// `ConsoleGateRevocations` (IAM GetRole, GetRolePolicy, PutRolePolicy with the broker's credentials).
public struct SessionRevoker: Sendable {
    let iam: IAMClient

    public init(iam: IAMClient) {
        self.iam = iam
    }

    public struct Outcome: Sendable, Equatable {
        public var roleName: String
        /// The `aws:userid` values denied, or nil: every session of the role.
        public var userIds: [String]?
        /// Sessions issued before this moment are denied.
        public var before: Date
        /// To stay within IAM's size limit the policy now denies every session of the role issued before
        /// `before`, not only those asked for.
        public var collapsedToEveryone: Bool
        public var statements: Int
        public var size: Int
    }

    /// Denies the sessions named `sessionNames` (nil: all) on the role that were issued before `now`.
    /// IAM has no conditional write, so the policy is read back: a revocation that another operator's
    /// overwrote at the same moment is made again.
    public func revoke(roleArn: String, sessionNames: [String]?, now: Date) async throws -> Outcome {
        let roleName = Self.roleName(fromArn: roleArn)
        let roleId = try await iam.roleId(roleName: roleName)
        let userIds = sessionNames.map { Set($0.map { "\(roleId):\($0)" }) }
        for _ in 0..<3 {
            var policy = try RevocationPolicy(document: try await iam.rolePolicy(roleName: roleName, policyName: RevocationPolicy.name))
            try policy.revoke(userIds: userIds, before: now)
            policy.prune(now: now)
            let collapsed = try policy.fit()
            try await iam.putRolePolicy(roleName: roleName, policyName: RevocationPolicy.name, document: policy.document)
            let stored = try RevocationPolicy(document: try await iam.rolePolicy(roleName: roleName, policyName: RevocationPolicy.name))
            if stored.denies(userIds: userIds, issuedBefore: now) {
                // The moment the statement names (whole seconds), which the audit record and `sessions` use too.
                return Outcome(roleName: roleName, userIds: userIds?.sorted(), before: RevocationPolicy.wholeSecond(now), collapsedToEveryone: collapsed,
                               statements: stored.revocations.count, size: stored.size)
            }
        }
        throw RevocationPolicy.PolicyProblem(description: "the inline policy \(RevocationPolicy.name) of \(roleName) kept changing under this revocation (other operators at work?); run it again")
    }

    /// What `revoke` takes as a role: an IAM role ARN (the policy goes on the role it names).
    public static func isRoleArn(_ role: String) -> Bool {
        role.hasPrefix("arn:") && role.contains(":role/")
    }

    /// `arn:aws:iam::123456789012:role/path/Name` → `Name`: IAM's RoleName carries no path. A bare name passes.
    public static func roleName(fromArn arn: String) -> String {
        guard arn.hasPrefix("arn:"), let resource = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).last else { return arn }
        return resource.split(separator: "/").last.map(String.init) ?? arn
    }
}

extension RevocationPolicy {
    /// Whether a session of each of `userIds` (nil: any session) issued just before `moment` is denied.
    public func denies(userIds: Set<String>?, issuedBefore moment: Date) -> Bool {
        let covering = revocations.filter { $0.before >= Self.wholeSecond(moment) }
        guard let userIds else { return covering.contains { $0.userIds == nil } }
        return userIds.allSatisfy { id in covering.contains { $0.userIds?.contains(id) ?? true } }
    }
}
