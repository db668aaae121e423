import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import Minting
import TestSupport

/// Real pam_unix with throwaway system users (pam_wrapper cannot run that many helpers at once): 200 people
/// log in at once through the JSON API, two groups with a role each; and what an attacker tries against
/// real accounts (200 concurrent guesses; the right password of an account no access rule names). Needs
/// root, as pam_unix does. scripts/test.sh runs it on its own (`--filter LoadTests`): it keeps both cores busy.
@Suite(.serialized, .enabled(if: getuid() == 0, "pam_unix verifies other users' passwords only as root"))
struct GatewayLoadTests {
    static let count = 200
    /// Every client here is 127.0.0.1: let it hold all its connections at once.
    static let oneAddressForAll = "  max_connections_per_address: 1000"

    static func run(_ command: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(command) \(arguments) failed"]) }
    }

    /// Throwaway system users (with their groups) and a copy of pam/consolegate as a PAM service of its own;
    /// `remove()` takes them all away again.
    struct SystemUsers {
        struct Account {
            var name: String
            var password: String
            var group: String
        }

        let tag = "c\(Int.random(in: 1000...9999))"
        let accounts: [Account]
        let groups: [String]
        let service: String
        let scratch: URL

        init(count: Int, groupCount: Int) throws {
            let tag = self.tag
            groups = (0..<groupCount).map { "\(tag)g\($0)" }
            let groups = groups
            accounts = (0..<count).map { Account(name: "\(tag)u\($0)", password: "Pw-\($0)-\(UUID().uuidString.prefix(6))", group: groups[$0 % groups.count]) }
            service = "consolegate-\(tag)"
            scratch = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-\(tag)")
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let usersFile = scratch.appendingPathComponent("newusers").path
            // newusers creates each home directory: keep them in the scratch directory.
            let home = scratch.appendingPathComponent("home").path
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            // newusers creates every user, its group and its password in one go.
            try accounts.map { "\($0.name):\($0.password)::\($0.group):ConsoleGate test:\(home)/\($0.name):/usr/sbin/nologin\n" }.joined()
                .write(toFile: usersFile, atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../pam/consolegate").standardized.path,
                                             toPath: "/etc/pam.d/\(service)")
            do {
                try GatewayLoadTests.run("/usr/sbin/newusers", [usersFile])
            } catch {
                remove()
                throw error
            }
        }

        func remove() {
            for account in accounts { try? GatewayLoadTests.run("/usr/sbin/userdel", [account.name]) }
            for group in groups { try? GatewayLoadTests.run("/usr/sbin/groupdel", [group]) }
            try? FileManager.default.removeItem(atPath: "/etc/pam.d/\(service)")
            try? FileManager.default.removeItem(at: scratch)
        }
    }

    @Test func twoHundredConcurrentLoginsEachGetTheirOwnRole() async throws {
        let standIns = try StandIns.load()
        let system = try SystemUsers(count: Self.count, groupCount: 2)
        defer { system.remove() }
        let (users, groups, service) = (system.accounts, system.groups, system.service)
        let roleOf = [groups[0]: standIns.roles["ConsoleAdmin"]!, groups[1]: standIns.roles["ConsoleReadOnly"]!]
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(roleOf[groups[0]]!)
            groups: [\(groups[0])]
          - role: \(roleOf[groups[1]]!)
            groups: [\(groups[1])]
        """, systemService: service, listenExtra: Self.oneAddressForAll, pamExtra: "  queue_timeout: 120s",
           lockoutExtra: "  per_address: 1000\n  per_address_in_flight: \(Self.count)")
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

    /// 200 concurrent guesses at one pam_unix account, the right password among them (sent once the guesses
    /// are under way): no URL, and PAM runs at most `per_user` (5) times.
    @Test func concurrentGuessesReachPAMAtMostPerUserTimes() async throws {
        let standIns = try StandIns.load()
        let system = try SystemUsers(count: 1, groupCount: 1)
        defer { system.remove() }
        let victim = system.accounts[0]
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            groups: [\(victim.group)]
        """, systemService: system.service, listenExtra: Self.oneAddressForAll,
           lockoutExtra: "  per_user: 5\n  per_address: 1000\n  per_address_in_flight: 1000")
        defer { daemon.stop() }
        let client = Self.client(connections: Self.count)
        let url = daemon.httpURL.appendingPathComponent("api/v1/login").absoluteString
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<(Self.count - 1) {
                group.addTask { try await Self.post(client, url, ["username": victim.name, "password": "guess-\(index)"]) }
            }
            // The right password only once the guesses are under way: the first refusal is audited while the
            // first guess still waits out pam_unix's ~2 s fail delay.
            let deadline = ContinuousClock.now + .seconds(30)
            while !daemon.auditLines.contains(where: { $0.contains(#""outcome":"throttled""#) }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            let own = HTTPClient(eventLoopGroupProvider: .singleton)
            group.addTask {
                defer { Task { try? await own.shutdown() } }
                return try await Self.post(own, url, ["username": victim.name, "password": victim.password])
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        try await client.shutdown()
        #expect(statuses.count == Self.count)
        #expect(!statuses.contains(200))
        #expect(Set(statuses).isSubset(of: [401, 429]), "\(Set(statuses))")
        let ranPAM = daemon.auditLines.filter { $0.contains(#""outcome":"authentication_failed""#) || $0.contains(#""outcome":"success""#) }
        #expect(ranPAM.count <= 5, "\(ranPAM)")
        #expect(!daemon.auditLines.contains { $0.contains(#""outcome":"success""#) })
    }

    /// No password oracle: the right password of a host account that no access rule names (a service
    /// account, and root) answers exactly as a wrong one, over the API, the web form and /roles, and PAM never
    /// runs for it.
    @Test func hostAccountsWithoutARuleAreNoPasswordOracle() async throws {
        let standIns = try StandIns.load()
        let system = try SystemUsers(count: 2, groupCount: 2)
        defer { system.remove() }
        let (member, service) = (system.accounts[0], system.accounts[1])
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            groups: [\(member.group)]
        """, systemService: system.service, lockoutExtra: "  per_user: 100\n  per_address: 1000")
        defer { daemon.stop() }
        let transport = AsyncHTTPTransport(environment: [:])
        func api(_ user: String, _ password: String) async throws -> TransportResponse {
            try await transport.send(TransportRequest(method: "POST", url: daemon.httpURL.appendingPathComponent("api/v1/login"), headers: [("Content-Type", "application/json")],
                                                      body: Array(try JSONSerialization.data(withJSONObject: ["username": user, "password": password])), timeout: .seconds(30)))
        }
        func roles(_ user: String, _ password: String) async throws -> TransportResponse {
            try await transport.send(TransportRequest(method: "GET", url: daemon.httpURL.appendingPathComponent("api/v1/roles"),
                                                      headers: [("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())], timeout: .seconds(30)))
        }
        let page = try await transport.send(TransportRequest(method: "GET", url: daemon.httpURL, timeout: .seconds(30)))
        let cookie = try #require(page.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let csrf = String(cookie.split(separator: "=", maxSplits: 1)[1])
        func web(_ user: String, _ password: String) async throws -> TransportResponse {
            let form = "csrf=\(csrf)&username=\(user)&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            return try await transport.send(TransportRequest(method: "POST", url: daemon.httpURL.appendingPathComponent("login"),
                                                             headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie)], body: Array(form.utf8), timeout: .seconds(30)))
        }
        for front in [api, roles, web] {
            let right = try await front(service.name, service.password)
            let wrong = try await front(service.name, "not-" + service.password)
            #expect(right.status == 401)
            #expect(right.status == wrong.status)
            #expect(right.body == wrong.body)
            let rootAnswer = try await front("root", "not-the-root-password")
            #expect(rootAnswer.status == 401)
            // A named member's wrong password: the same answer as well (PAM ran for this one).
            let member = try await front(member.name, "not-" + member.password)
            #expect(member.status == 401)
        }
        let notRun = daemon.auditLines.filter { $0.contains("PAM not run") }
        #expect(notRun.count == 9)
        #expect(notRun.allSatisfy { $0.contains(#""outcome":"authentication_failed""#) })
        #expect(daemon.auditLines.filter { $0.contains(#""user":"\#(service.name)""#) || $0.contains(#""user":"root""#) }.allSatisfy { $0.contains("PAM not run") })
    }

    static func client(connections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func post(_ client: HTTPClient, _ url: String, _ body: [String: String]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await client.execute(request, timeout: .seconds(120))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    /// A cap, not a fork bomb: 300 logins at once against a stack that sleeps 3 s (pam_exec). At no moment do
    /// more than `pam.max_concurrent` helpers exist; the rest wait, or get 503 with Retry-After after
    /// `pam.queue_timeout` (audited `busy`); the daemon's threads and descriptors stay bounded, and nothing
    /// is left behind.
    @Test func slowLoginsQueueBehindTheTransactionCap() async throws {
        let standIns = try StandIns.load()
        let tag = "s\(Int.random(in: 1000...9999))"
        let service = "consolegate-\(tag)"
        try "auth required pam_exec.so quiet /bin/sleep 3\nauth required pam_permit.so\naccount required pam_permit.so\n"
            .write(toFile: "/etc/pam.d/\(service)", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: "/etc/pam.d/\(service)") }
        let users = (0..<300).map { "\(tag)u\($0)" }
        let daemon = try await DaemonFixture(standIns: standIns, users: [], access: """
        access:
          - role: \(standIns.roles["ConsoleReadOnly"]!)
            users: [\(users.joined(separator: ", "))]
        """, systemService: service, listenExtra: Self.oneAddressForAll, pamExtra: "  max_concurrent: 8\n  queue_timeout: 4s",
           lockoutExtra: "  per_address: 10000\n  per_address_in_flight: 1000")
        defer { daemon.stop() }
        let pid = daemon.process.processIdentifier
        let baseline = (descriptors: Self.descriptors(of: pid), threads: Self.threads(of: pid))
        let sampler = Sampler { (helpers: daemon.leftoverHelpers.count, descriptors: Self.descriptors(of: pid), threads: Self.threads(of: pid)) }
        let client = Self.client(connections: users.count)
        let url = daemon.httpURL.appendingPathComponent("api/v1/login").absoluteString
        let answers = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for user in users {
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["username": user, "password": "any"])))
                    let response = try await client.execute(request, timeout: .seconds(120))
                    _ = try await response.body.collect(upTo: 1 << 16)
                    return (Int(response.status.code), response.headers.first(name: "Retry-After"))
                }
            }
            return try await group.reduce(into: [(Int, String?)]()) { $0.append($1) }
        }
        let samples = sampler.stop()
        try await client.shutdown()
        let maxHelpers = samples.map(\.helpers).max() ?? 0
        print("NOTE 300 slow logins: \(answers.filter { $0.0 == 200 }.count) signed in, \(answers.filter { $0.0 == 503 }.count) got 503; at most \(maxHelpers) helpers, \(samples.map(\.descriptors).max() ?? 0) descriptors, \(samples.map(\.threads).max() ?? 0) threads (\(samples.count) samples)")
        #expect(maxHelpers <= 8)
        #expect(samples.count > 10)
        #expect(Set(answers.map(\.0)).isSubset(of: [200, 503]))
        #expect(answers.filter { $0.0 == 200 }.count >= 8)
        #expect(answers.filter { $0.0 == 503 }.allSatisfy { $0.1 == "5" })
        #expect(daemon.auditLines.filter { $0.contains(#""outcome":"busy""#) }.count == answers.filter { $0.0 == 503 }.count)
        #expect((samples.map(\.threads).max() ?? 0) <= baseline.threads + 8 + 8, "a thread per running helper at most")
        #expect((samples.map(\.descriptors).max() ?? 0) <= baseline.descriptors + 300 + 2 * 8 + 64)
        let settled = ContinuousClock.now + .seconds(10)
        while !daemon.leftoverHelpers.isEmpty, ContinuousClock.now < settled { try await Task.sleep(for: .milliseconds(50)) }
        #expect(daemon.leftoverHelpers.isEmpty)
    }

    static func descriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    static func threads(of pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Threads:") }.flatMap { Int($0.dropFirst(8).trimmingCharacters(in: .whitespaces)) } ?? 0
    }
}

/// Reads a measurement every 20 ms on a thread of its own until stopped.
final class Sampler<Sample: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var samples: [Sample] = []
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(_ measure: @escaping @Sendable () -> Sample) {
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let sample = measure()
                lock.withLock { samples.append(sample) }
                usleep(20_000)
            }
            done.signal()
        }
    }

    func stop() -> [Sample] {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { samples }
    }
}
