import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TestSupport

/// 200 people log in at once through the JSON API: real pam_unix with throwaway system users (pam_wrapper
/// cannot run that many helpers at once), two groups with a role each. Needs root, as pam_unix does.
/// scripts/test.sh runs it on its own (`--filter LoadTests`): it keeps both cores busy.
@Suite(.enabled(if: getuid() == 0, "pam_unix verifies other users' passwords only as root"))
struct GatewayLoadTests {
    static let count = 200

    static func run(_ command: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(command) \(arguments) failed"]) }
    }

    @Test func twoHundredConcurrentLoginsEachGetTheirOwnRole() async throws {
        let standIns = try StandIns.load()
        let tag = "c\(Int.random(in: 1000...9999))"
        let groups = ["\(tag)ga", "\(tag)gb"]
        let users = (0..<Self.count).map { (name: "\(tag)u\($0)", password: "Pw-\($0)-\(UUID().uuidString.prefix(6))", group: groups[$0 % 2]) }
        let service = "consolegate-\(tag)"
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-\(tag)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let usersFile = scratch.appendingPathComponent("newusers").path
        // newusers creates each home directory: keep them in the scratch directory.
        let home = scratch.appendingPathComponent("home").path
        // newusers creates every user, its group and its password in one go.
        try users.map { "\($0.name):\($0.password)::\($0.group):ConsoleGate test:\(home)/\($0.name):/usr/sbin/nologin\n" }.joined()
            .write(toFile: usersFile, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../pam/consolegate").standardized.path,
                                         toPath: "/etc/pam.d/\(service)")
        defer {
            for user in users { try? Self.run("/usr/sbin/userdel", [user.name]) }
            for group in groups { try? Self.run("/usr/sbin/groupdel", [group]) }
            try? FileManager.default.removeItem(atPath: "/etc/pam.d/\(service)")
            try? FileManager.default.removeItem(at: scratch)
        }
        try Self.run("/usr/sbin/newusers", [usersFile])

        let roleOf = [groups[0]: standIns.roles["ConsoleAdmin"]!, groups[1]: standIns.roles["ConsoleReadOnly"]!]
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(roleOf[groups[0]]!)
            groups: [\(groups[0])]
          - role: \(roleOf[groups[1]]!)
            groups: [\(groups[1])]
        """, systemService: service)
        defer { daemon.stop() }

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = Self.count
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let url = daemon.httpURL.appendingPathComponent("api/v1/login").absoluteString
        struct Answer: Sendable {
            var status = 0
            var roleArn: String?
            var sessionName: String?
        }
        let answers = await withTaskGroup(of: (Int, Answer).self) { group in
            for (index, user) in users.enumerated() {
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: ["username": user.name, "password": user.password])))
                    guard let response = try? await client.execute(request, timeout: .seconds(120)),
                          let body = try? await response.body.collect(upTo: 1 << 16) else { return (index, Answer()) }
                    let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
                    return (index, Answer(status: Int(response.status.code), roleArn: json["role_arn"] as? String, sessionName: json["session_name"] as? String))
                }
            }
            return await group.reduce(into: [Int: Answer]()) { $0[$1.0] = $1.1 }
        }
        try await client.shutdown()
        for (index, user) in users.enumerated() {
            let answer = answers[index]
            #expect(answer?.status == 200, "\(user.name)")
            #expect(answer?.roleArn == roleOf[user.group], "\(user.name)")
            #expect(answer?.sessionName == user.name)
        }
        #expect(daemon.auditLines.filter { $0.contains(#""outcome":"success""#) }.count == Self.count)
        #expect(daemon.leftoverHelpers.isEmpty, "\(daemon.leftoverHelpers)")
    }
}
