import Foundation
@testable import Revocation
import Testing

/// The ConsoleGateRevocations document on its own: what each revocation adds, how older ones give way, and
/// that it stays within IAM's size limit without ever denying less than was asked.
@Suite struct RevocationPolicyTests {
    static let roleId = "AROAEXAMPLEROLEID0001"
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    static func id(_ user: String) -> String { "\(roleId):\(user)" }

    static func statements(_ policy: RevocationPolicy) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(policy.document.utf8)) as? [String: Any])
        #expect(object["Version"] as? String == "2012-10-17")
        return try #require(object["Statement"] as? [[String: Any]])
    }

    @Test func aRevocationDeniesTheNamedSessionsIssuedBeforeIt() throws {
        var policy = try RevocationPolicy(document: nil)
        try policy.revoke(userIds: [Self.id("alice")], before: Self.start)
        let statement = try #require(try Self.statements(policy).first)
        #expect(statement["Effect"] as? String == "Deny")
        #expect(statement["Action"] as? String == "*")
        #expect(statement["Resource"] as? String == "*")
        #expect(statement["Sid"] as? String == "ConsoleGateRevoke20261118110640")
        let condition = try #require(statement["Condition"] as? [String: [String: Any]])
        #expect(condition["StringEquals"]?["aws:userid"] as? [String] == [Self.id("alice")])
        #expect(condition["DateLessThan"]?["aws:TokenIssueTime"] as? String == "2026-11-18T11:06:40Z")
        #expect(condition.count == 2)
    }

    @Test func revokingEveryoneHasNoUserCondition() throws {
        var policy = try RevocationPolicy(document: nil)
        try policy.revoke(userIds: nil, before: Self.start)
        let statement = try #require(try Self.statements(policy).first)
        #expect(statement["Sid"] as? String == "ConsoleGateRevokeAll20261118110640")
        #expect((statement["Condition"] as? [String: Any])?.keys.sorted() == ["DateLessThan"])
        #expect(policy.denies(userIds: nil, issuedBefore: Self.start))
        #expect(policy.denies(userIds: [Self.id("anyone")], issuedBefore: Self.start))
    }

    /// Read back, merged with what is there: another person gets a statement of their own; the same person
    /// revoked again moves to the later moment; statements that are not ConsoleGate's stay as they are.
    @Test func aSecondRevocationMergesAndForeignStatementsStay() throws {
        let foreign = #"{"Sid":"Keep","Effect":"Deny","Action":"s3:*","Resource":"*"}"#
        let existing = #"{"Version":"2012-10-17","Statement":[\#(foreign)]}"#
        var policy = try RevocationPolicy(document: existing)
        try policy.revoke(userIds: [Self.id("alice")], before: Self.start)
        policy = try RevocationPolicy(document: policy.document)
        try policy.revoke(userIds: [Self.id("bob")], before: Self.start.addingTimeInterval(60))
        policy = try RevocationPolicy(document: policy.document)
        #expect(policy.revocations.map(\.userIds) == [[Self.id("alice")], [Self.id("bob")]])
        try policy.revoke(userIds: [Self.id("alice")], before: Self.start.addingTimeInterval(120))
        policy = try RevocationPolicy(document: policy.document)
        #expect(policy.revocations.map(\.userIds) == [[Self.id("bob")], [Self.id("alice")]])
        let statements = try Self.statements(policy)
        #expect(statements.first?["Sid"] as? String == "Keep")
        #expect(statements.count == 3)
        #expect(policy.denies(userIds: [Self.id("alice")], issuedBefore: Self.start.addingTimeInterval(120)))
        #expect(!policy.denies(userIds: [Self.id("bob")], issuedBefore: Self.start.addingTimeInterval(120)))
    }

    @Test func statementsOlderThanTheLongestSessionArePruned() throws {
        var policy = try RevocationPolicy(document: nil)
        try policy.revoke(userIds: [Self.id("alice")], before: Self.start)
        try policy.revoke(userIds: [Self.id("bob")], before: Self.start.addingTimeInterval(3600))
        policy.prune(now: Self.start.addingTimeInterval(RevocationPolicy.longestSession + 1))
        #expect(policy.revocations.map(\.userIds) == [[Self.id("bob")]])
    }

    /// 500 revocations of different people, one every two minutes for almost 17 hours: after each the
    /// document is within the budget, and every session revoked in the last 12 hours is still denied.
    @Test func fiveHundredRevocationsStayWithinTheSizeLimit() throws {
        var document: String?
        var collapses = 0
        for index in 0..<500 {
            let now = Self.start.addingTimeInterval(Double(index) * 120)
            var policy = try RevocationPolicy(document: document)
            try policy.revoke(userIds: [Self.id("user\(index)")], before: now)
            policy.prune(now: now)
            if try policy.fit() { collapses += 1 }
            #expect(policy.size <= RevocationPolicy.sizeBudget)
            for back in stride(from: index, through: max(0, index - 359), by: -37) {
                #expect(policy.denies(userIds: [Self.id("user\(back)")], issuedBefore: Self.start.addingTimeInterval(Double(back) * 120)))
            }
            document = policy.document
        }
        #expect(try RevocationPolicy(document: document).size <= RevocationPolicy.sizeBudget)
        // 360 people revoked within 12 hours do not fit as names: then the policy denies everyone's older sessions.
        #expect(collapses > 0)
    }

    /// The same few people revoked again and again: the document keeps one entry each and never collapses.
    @Test func repeatedRevocationsOfFewPeopleNeverCollapse() throws {
        var document: String?
        for index in 0..<500 {
            let now = Self.start.addingTimeInterval(Double(index) * 30)
            var policy = try RevocationPolicy(document: document)
            try policy.revoke(userIds: [Self.id("user\(index % 20)")], before: now)
            policy.prune(now: now)
            #expect(try policy.fit() == false)
            document = policy.document
        }
        let policy = try RevocationPolicy(document: document)
        #expect(policy.revocations.reduce(0) { $0 + ($1.userIds?.count ?? 0) } == 20)
    }

    @Test func whatIsNotAPolicyIsRefused() {
        #expect(throws: RevocationPolicy.PolicyProblem.self) { try RevocationPolicy(document: "not json") }
        #expect(throws: RevocationPolicy.PolicyProblem.self) {
            var policy = try RevocationPolicy(document: nil)
            try policy.revoke(userIds: [#"AROA:x"],"y"#], before: Self.start)
        }
    }

    @Test func roleNamesComeFromArnsWithoutTheirPath() {
        #expect(SessionRevoker.roleName(fromArn: "arn:aws:iam::123456789012:role/ConsoleAdmin") == "ConsoleAdmin")
        #expect(SessionRevoker.roleName(fromArn: "arn:aws:iam::123456789012:role/teams/ops/ConsoleAdmin") == "ConsoleAdmin")
        #expect(SessionRevoker.roleName(fromArn: "ConsoleAdmin") == "ConsoleAdmin")
    }
}
