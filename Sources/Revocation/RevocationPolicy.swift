import Foundation

/// The inline policy `ConsoleGateRevocations` of a managed role: one Deny statement per moment of
/// revocation, for the sessions issued before it (`aws:TokenIssueTime`), either of the listed people
/// (`aws:userid` is `<role id>:<session name>`) or of everyone. Statements that are not ConsoleGate's are
/// kept as they are.
///
/// A statement stops mattering once every session it can deny has expired: no role session lives longer
/// than 12 hours, so older statements are pruned. To stay within IAM's size limit the oldest statements
/// are merged (their people under the later moment, which denies more, never less), and as a last resort
/// everything collapses into one statement that ends every session of the role issued before the latest
/// revocation, as the IAM console's "Revoke active sessions" does.
public struct RevocationPolicy: Sendable, Equatable {
    public static let name = "ConsoleGateRevocations"
    static let sidPrefix = "ConsoleGateRevoke"
    static let everyoneMarker = "All"
    /// The longest a role session can live (MaxSessionDuration is at most 12 hours).
    public static let longestSession: TimeInterval = 12 * 3600
    /// IAM allows 10,240 characters (whitespace not counted) for all of a role's inline policies together;
    /// this one keeps to 8,192 and leaves the rest to the role's other inline policies.
    public static let sizeBudget = 8192

    /// Sessions issued before `before` are denied: those of `userIds`, or every one when it is nil.
    public struct Revocation: Sendable, Equatable {
        public var before: Date
        public var userIds: Set<String>?

        public init(before: Date, userIds: Set<String>?) {
            self.before = before
            self.userIds = userIds
        }
    }

    /// Statements of other origin, as compact JSON, in their order.
    var foreign: [String]
    /// Ours, oldest first, at most one per moment.
    public private(set) var revocations: [Revocation]

    public struct PolicyProblem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The policy as IAM holds it (nil: the role has none yet).
    public init(document: String?) throws {
        foreign = []
        revocations = []
        guard let document else { return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any] else {
            throw PolicyProblem(description: "the inline policy \(Self.name) is not a JSON object")
        }
        let statements: [Any] = switch object["Statement"] {
        case let list as [Any]: list
        case let single as [String: Any]: [single]
        case nil: []
        default: throw PolicyProblem(description: "the inline policy \(Self.name) has a Statement that is neither a list nor an object")
        }
        for statement in statements {
            if let ours = (statement as? [String: Any]).flatMap(Self.revocation) {
                add(ours)
            } else {
                foreign.append(try Self.compact(statement))
            }
        }
    }

    /// Denies the sessions of `userIds` (nil: everyone's) issued before `moment`.
    public mutating func revoke(userIds: Set<String>?, before moment: Date) throws {
        if let bad = userIds?.first(where: { !Self.isUserId($0) }) {
            throw PolicyProblem(description: "\(bad) is not an aws:userid of a role session (role id:session name)")
        }
        add(Revocation(before: Self.wholeSecond(moment), userIds: userIds))
    }

    /// Forgets statements that can no longer deny a live session.
    public mutating func prune(now: Date) {
        revocations.removeAll { $0.before.addingTimeInterval(Self.longestSession) < now }
    }

    /// Merges the oldest statements until the document fits `budget`. True when it had to collapse into one
    /// statement for everyone, which also ends the sessions of people nobody revoked.
    @discardableResult
    public mutating func fit(budget: Int = sizeBudget) throws -> Bool {
        while size > budget, revocations.count > 1 {
            let older = revocations.removeFirst()
            var newer = revocations.removeFirst()
            newer.userIds = older.userIds.flatMap { old in newer.userIds.map { old.union($0) } }
            revocations.insert(newer, at: 0)
        }
        var collapsed = false
        if size > budget, let only = revocations.first, only.userIds != nil {
            revocations = [Revocation(before: only.before, userIds: nil)]
            collapsed = true
        }
        guard size <= budget else {
            throw PolicyProblem(description: "the inline policy \(Self.name) holds \(size) characters of statements that are not ConsoleGate's; IAM's limit leaves no room")
        }
        return collapsed
    }

    /// Characters as IAM counts them: JSON without whitespace outside strings (ours has none).
    public var size: Int { document.utf8.count }

    /// The document to put, compact and in a stable order.
    public var document: String {
        let statements = foreign + revocations.map(Self.statement)
        return #"{"Version":"2012-10-17","Statement":["# + statements.joined(separator: ",") + "]}"
    }

    // MARK: - Statements

    private mutating func add(_ revocation: Revocation) {
        // A later moment covers the same people: they leave older statements; everyone covers everyone.
        for index in revocations.indices where revocations[index].before <= revocation.before {
            if let people = revocation.userIds {
                revocations[index].userIds?.subtract(people)
            } else if revocations[index].userIds != nil {
                revocations[index].userIds = []
            }
        }
        revocations.removeAll { $0.userIds?.isEmpty == true }
        if let same = revocations.firstIndex(where: { $0.before == revocation.before }) {
            revocations[same].userIds = revocations[same].userIds.flatMap { old in revocation.userIds.map { old.union($0) } }
        } else {
            revocations.append(revocation)
            revocations.sort { $0.before < $1.before }
        }
    }

    static func statement(_ revocation: Revocation) -> String {
        let moment = Self.timestamp(revocation.before)
        var condition = #""DateLessThan":{"aws:TokenIssueTime":"\#(moment)"}"#
        var sid = sidPrefix
        if let people = revocation.userIds {
            let list = people.sorted().map { "\"\($0)\"" }.joined(separator: ",")
            condition = #""StringEquals":{"aws:userid":[\#(list)]},"# + condition
        } else {
            sid += everyoneMarker
        }
        sid += moment.filter(\.isNumber)
        return #"{"Sid":"\#(sid)","Effect":"Deny","Action":"*","Resource":"*","Condition":{\#(condition)}}"#
    }

    /// One of ours, read back; nil for anything else (kept as it is).
    static func revocation(_ statement: [String: Any]) -> Revocation? {
        guard let sid = statement["Sid"] as? String, sid.hasPrefix(sidPrefix), statement["Effect"] as? String == "Deny",
              let condition = statement["Condition"] as? [String: Any],
              let moment = (condition["DateLessThan"] as? [String: Any])?["aws:TokenIssueTime"] as? String,
              let before = try? Date(moment, strategy: .iso8601)
        else { return nil }
        guard let match = condition["StringEquals"] as? [String: Any] else {
            return condition.count == 1 ? Revocation(before: before, userIds: nil) : nil
        }
        switch match["aws:userid"] {
        case let one as String where isUserId(one): return Revocation(before: before, userIds: [one])
        case let many as [String] where !many.isEmpty && many.allSatisfy(isUserId): return Revocation(before: before, userIds: Set(many))
        default: return nil
        }
    }

    static func compact(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// `aws:userid` of a role session: the role id, a colon, the session name (`[\w+=,.@-]`). Nothing else
    /// goes into a statement, so it needs no escaping.
    static func isUserId(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 256 && text.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "+", "=", ",", ".", "@", "-", ":": true
            default: false
            }
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func wholeSecond(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.up))
    }
}
