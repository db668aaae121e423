import GatewayConfig
import Testing

@testable import Authorization

@Suite struct AccessPolicyTests {
    struct FakeDirectory: UserDirectory {
        var groups: [String: [String]]
        func groups(of user: String) -> [String]? { groups[user] }
        func userName(uid: UInt32) -> String? { nil }
    }

    let configuration = GatewayConfiguration(aws: AWSSettings(strategy: .assumeRole), access: [
        AccessRule(role: "arn:aws:iam::123456789012:role/Admin", groups: ["aws-admins"]),
        AccessRule(role: "arn:aws:iam::123456789012:role/ReadOnly", users: ["alice"], groups: ["staff"]),
        AccessRule(role: "arn:aws:iam::123456789012:role/Billing", groups: ["finance"]),
    ])

    var policy: AccessPolicy {
        AccessPolicy(configuration: configuration, directory: FakeDirectory(groups: ["bob": ["staff", "aws-admins"], "alice": ["users"]]))
    }

    @Test func firstMatchingRuleIsTheDefault() {
        #expect(policy.decide(user: "bob", requestedRole: nil) == .granted(configuration.access[0]))
        #expect(policy.decide(user: "alice", requestedRole: nil) == .granted(configuration.access[1]))
    }

    @Test func aUserInTwoGroupsMayPickEitherButNotAThird() {
        #expect(policy.decide(user: "bob", requestedRole: "arn:aws:iam::123456789012:role/ReadOnly") == .granted(configuration.access[1]))
        #expect(policy.decide(user: "bob", requestedRole: "arn:aws:iam::123456789012:role/Billing")
            == .roleNotAllowed(allowed: ["arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:role/ReadOnly"]))
    }

    /// File order, each role once, by user name or by any of the user's groups.
    @Test func rulesNameTheUserOrAGroupInFileOrder() {
        let twice = configuration.access + [AccessRule(role: "arn:aws:iam::123456789012:role/Admin", users: ["dave"])]
        #expect(AccessPolicy.rules(twice, for: "alice", groups: []).map(\.role) == ["arn:aws:iam::123456789012:role/ReadOnly"])
        #expect(AccessPolicy.rules(twice, for: "dave", groups: ["staff", "aws-admins"]).map(\.role) == [
            "arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:role/ReadOnly",
        ])
        #expect(AccessPolicy.rules(twice, for: "eve", groups: ["other"]).isEmpty)
    }

    @Test func unknownUsersGetNoRole() {
        #expect(policy.decide(user: "nobody", requestedRole: nil) == .noRole)
    }

    @Test func systemDirectoryKnowsRoot() {
        let directory = SystemUserDirectory()
        #expect(directory.userName(uid: 0) == "root")
        #expect(directory.groups(of: "root")?.contains("root") == true)
        #expect(directory.groups(of: "no-such-user-consolegate") == nil)
    }
}
