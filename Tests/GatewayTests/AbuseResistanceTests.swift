import AsyncHTTPClient
import Foundation
@testable import Gateway
import GatewayConfig
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// What an attacker tries against the HTTP layer and the login service (stand-in PAM and minting, real
/// routes, lockout and audit): concurrent guesses, someone else's lock, a client that hangs up, a
/// blackholed upstream, and bodies that bend the JSON rules. The same with real pam_unix is in
/// GatewayLoadTests (root).
@Suite struct AbuseResistanceTests {
    typealias H = GatewayHarness

    static func login(_ client: some TestClientProtocol, _ fields: [String: String], from address: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let address { headers[HTTPField.Name("X-Forwarded-For")!] = address }
        return try await client.execute(uri: "/api/v1/login", method: .post, headers: headers, body: H.json(fields))
    }

    /// 200 guesses at once, the right password among them: PAM runs at most `per_user` times, and the
    /// right guess gets no URL (its slot was taken by guesses still running).
    @Test func concurrentGuessesCannotOvershootTheBudget() async throws {
        let harness = H(trustedProxies: ["127.0.0.1"], perUser: 5, perAddress: 1000, perAddressInFlight: 1000, pamDelay: .milliseconds(300))
        let statuses = try await harness.application().test(.live) { client in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        // The right password goes last, from an address of its own.
                        let password = index == 199 ? "alice-pw" : "guess-\(index)"
                        return try await Self.login(client, ["username": "alice", "password": password], from: "198.51.100.\(index % 250)").status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
        }
        #expect(!statuses.contains(.ok))
        #expect(harness.minter.mints.withLock { $0 } == 0)
        #expect(harness.authenticator.calls.withLock { $0 } <= 5)
        #expect(Set(statuses).isSubset(of: [.unauthorized, .tooManyRequests]))
        let throttled = harness.auditLines.filter { ["throttled", "locked_out"].contains($0["outcome"] as? String) }
        #expect(throttled.count >= 195)
    }

    /// OWASP device cookies: someone locks alice's name from elsewhere; her own client, which signed in
    /// before and kept its device token, still gets in. Without the token she is locked out like anyone.
    @Test func aLockOnTheNameDoesNotShutOutTheUsersDevice() async throws {
        let harness = H(trustedProxies: ["127.0.0.1"], perUser: 3, perAddress: 100)
        try await harness.application().test(.live) { client in
            let first = try await Self.login(client, ["username": "alice", "password": "alice-pw"], from: "192.0.2.10")
            #expect(first.status == .ok)
            let token = try #require(first.json["device_token"] as? String)
            for index in 1...3 {
                let guess = try await Self.login(client, ["username": "alice", "password": "guess"], from: "203.0.113.\(index)")
                #expect(guess.status == .unauthorized)
            }
            let withoutToken = try await Self.login(client, ["username": "alice", "password": "alice-pw"], from: "192.0.2.10")
            #expect(withoutToken.status == .tooManyRequests)
            let withToken = try await Self.login(client, ["username": "alice", "password": "alice-pw", "device_token": token], from: "192.0.2.10")
            #expect(withToken.status == .ok)
            // A token is bound to its user: bob cannot borrow alice's.
            let borrowed = try await Self.login(client, ["username": "bob", "password": "bob-pw", "device_token": token], from: "192.0.2.11")
            #expect(borrowed.status == .ok)
            #expect(harness.service.deviceTokens.verify(token, user: "bob") == nil)
            // A forged token is no token at all.
            let forged = token.dropLast(2) + "AA"
            let withForged = try await Self.login(client, ["username": "alice", "password": "alice-pw", "device_token": String(forged)], from: "192.0.2.10")
            #expect(withForged.status == .tooManyRequests)
        }
    }

    @Test func deviceTokensExpireAndVerifyWithAnyListedKey() {
        let clock = Date(timeIntervalSince1970: 1_800_000_000)
        let old = DeviceTokens(keys: [Array("old key old key old key old key old".utf8)], lifetime: .seconds(3600), now: { clock })
        let rotated = DeviceTokens(keys: [Array("new key new key new key new key new".utf8), Array("old key old key old key old key old".utf8)],
                                   lifetime: .seconds(3600), now: { clock })
        let token = old.issue(user: "alice")
        #expect(rotated.verify(token, user: "alice") != nil, "tokens of the old key stay valid after rotation")
        #expect(DeviceTokens(keys: [Array("new key new key new key new key new".utf8)], lifetime: .seconds(3600), now: { clock }).verify(token, user: "alice") == nil)
        let later = DeviceTokens(keys: old.keys, lifetime: .seconds(3600), now: { clock.addingTimeInterval(3601) })
        #expect(later.verify(token, user: "alice") == nil)
    }

    /// A client that hangs up while PAM works gets nothing minted, and the audit trail says so.
    /// The end of a successful attempt is counted while AWS is asked. If the state cannot count it, the
    /// minted grant is not delivered (503), and its one audit line says so, with what was minted; a wrong
    /// password whose failure cannot be counted gets 503 too, never a quiet 401.
    @Test func aGrantWhoseAttemptCannotBeCountedIsNotDelivered() async throws {
        let failing = Mutex<FinishFailingState?>(nil)
        let harness = H(state: { limits in
            let state = FinishFailingState(limits: limits)
            failing.withLock { $0 = state }
            return state
        })
        try await harness.application().test(.live) { client in
            let right = try await Self.login(client, ["username": "alice", "password": "alice-pw"])
            #expect(right.status == .serviceUnavailable)
            #expect(right.json["url"] == nil)
            #expect(right.json["error"] as? String != nil)
            let wrong = try await Self.login(client, ["username": "bob", "password": "guess"])
            #expect(wrong.status == .serviceUnavailable)
        }
        #expect(harness.minter.mints.withLock { $0 } == 1)
        #expect(failing.withLock { $0 }?.finishes.withLock { $0 } == 2)
        let alice = harness.auditLines.filter { $0["user"] as? String == "alice" }
        #expect(alice.map { $0["outcome"] as? String } == ["minting", "state_unavailable"])
        #expect(alice.last?["access_key_id"] as? String == "ASIAFAKEALICE")
        #expect((alice.last?["detail"] as? String)?.contains("nothing is delivered") == true)
        #expect(harness.auditLines.filter { $0["user"] as? String == "bob" }.map { $0["outcome"] as? String } == ["state_unavailable"])
    }

    @Test func aClientThatHungUpGetsNothingMinted() async throws {
        let harness = H(pamDelay: .milliseconds(400))
        try await harness.application().test(.live) { client in
            let port = try #require(client.port)
            let body = #"{"username":"alice","password":"alice-pw"}"#
            try RawConnection.sendAndHangUp(port: port, "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let deadline = ContinuousClock.now + .seconds(10)
            while harness.auditLines.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(harness.auditLines.map { $0["outcome"] as? String } == ["client_gone"])
        #expect(harness.minter.mints.withLock { $0 } == 0)
    }

    /// `aws.login_timeout` bounds the whole mint: a blackholed upstream gives 503, not a hung login.
    @Test func aLoginHasAnOverallDeadline() async throws {
        let harness = H(minter: FakeMinter(delay: .seconds(120)), loginTimeout: .seconds(1))
        try await harness.application().test(.live) { client in
            let started = ContinuousClock.now
            let response = try await Self.login(client, ["username": "alice", "password": "alice-pw"])
            #expect(response.status == .serviceUnavailable)
            #expect(ContinuousClock.now - started < .seconds(30))
        }
        let record = try #require(harness.auditLines.last)
        #expect(record["outcome"] as? String == "upstream_unavailable")
        #expect((record["detail"] as? String)?.contains("aws.login_timeout") == true)
    }

    /// Only strings for string fields; null is a type error; a key twice is refused whatever its types.
    @Test func bodiesAreReadStrictly() async throws {
        let harness = H(perUser: 100, perAddress: 100)
        try await harness.application().test(.live) { client in
            for body in [#"{"username":"alice","password":true}"#, #"{"username":"alice","password":"alice-pw","password":null}"#,
                         #"{"username":"alice","password":null}"#, #"{"username":"alice","password":"x","password":"alice-pw"}"#,
                         #"{"username":"alice","password":"alice-pw","logout_first":"maybe"}"#, #"{"username":"alice","password":"alice-pw","role":1}"#] {
                let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body)")
            }
        }
        #expect(harness.authenticator.calls.withLock { $0 } == 0)
    }

    @Test func jsonLinesEscapeLineBreakers() throws {
        let raw = Array(#"{"user":"a"#.utf8) + [0xE2, 0x80, 0xA8] + Array("b".utf8) + [0xE2, 0x80, 0xA9] + [0xC2, 0x85] + [0xC2, 0x9F] + [0xC2, 0xA0]
            + [0xE2, 0x80, 0x99] + Array(#""}"#.utf8)
        let escaped = JSONLine.escapingLineBreakers(raw)
        #expect(String(decoding: escaped, as: UTF8.self) == #"{"user":"a\u2028b\u2029\u0085\u009f"# + "\u{A0}\u{2019}\"}")
        let decoded = try JSONSerialization.jsonObject(with: Data(escaped)) as? [String: String]
        #expect(decoded?["user"] == String(decoding: raw, as: UTF8.self).dropFirst(9).dropLast(2).description)
    }

    @Test func auditLinesNeverCarryARawLineSeparator() async throws {
        let harness = H(perUser: 100, perAddress: 100)
        try await harness.application().test(.live) { client in
            _ = try await Self.login(client, ["username": "mallory\u{2028}{\"outcome\":\"success\"}", "password": "x"])
        }
        let bytes = try [UInt8](Data(contentsOf: harness.directory.appendingPathComponent("audit.jsonl")))
        #expect(!bytes.indices.dropLast(2).contains { bytes[$0] == 0xE2 && bytes[$0 + 1] == 0x80 && bytes[$0 + 2] == 0xA8 })
        #expect(harness.auditLines.count == 1)
    }

    @Test func unlockIsForRootAndTheAdminGroupOnlyAndAudited() async throws {
        let harness = H(perUser: 2, perAddress: 100, adminGroup: "wheel")
        try await harness.application().test(.live) { client in
            for _ in 1...2 { _ = try await Self.login(client, ["username": "alice", "password": "guess"]) }
            #expect(try await Self.login(client, ["username": "alice", "password": "alice-pw"]).status == .tooManyRequests)
            #expect(await harness.service.unlock("alice", operatorUID: 1001, requestId: "r1") == .notPermitted)
            #expect(try await Self.login(client, ["username": "alice", "password": "alice-pw"]).status == .tooManyRequests)
            #expect(await harness.service.unlock("alice", operatorUID: 1002, requestId: "r2") == .unlocked(.user("alice")))
            #expect(try await Self.login(client, ["username": "alice", "password": "alice-pw"]).status == .ok)
            #expect(await harness.service.unlock("192.0.2.77", operatorUID: 0, requestId: "r3") == .nothingToUnlock(.address("192.0.2.77")))
        }
        // The same check guards `consolegate revoke --through-daemon`.
        #expect(harness.service.socketOperator(uid: 1001) == ("alice", false))
        #expect(harness.service.socketOperator(uid: 1002) == ("ops", true))
        #expect(harness.service.socketOperator(uid: 0) == ("root", true))
        let records = harness.auditLines.filter { ["r1", "r2", "r3"].contains($0["request_id"] as? String) }
        #expect(records.map { $0["outcome"] as? String } == ["unlock_refused", "unlocked", "unlocked"])
        #expect(records.map { $0["user"] as? String } == ["alice", "ops", "root"])
    }
}

/// A client that sends a request and closes its socket at once, as a user who gives up would.
enum RawConnection {
    struct Failed: Error {}

    static func sendAndHangUp(port: Int, _ request: String) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failed() }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failed() }
        let bytes = Array(request.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw Failed() }
    }
}

/// The audit log after start: a file swapped for a symlink (at "rotation") is refused, not followed.
@Suite struct AuditLogSymlinkTests {
    @Test func aSymlinkSwappedInAfterStartIsNotFollowed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consolegate-audit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let path = "\(directory)/audit.jsonl", target = "\(directory)/precious"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        let audit = AuditLog(path: path)
        try await audit.open()
        let record = AuditRecord(time: "t", requestId: "r", frontEnd: "api", user: "mallory", client: "c", outcome: .authenticationFailed)
        try await audit.record(record)
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        await #expect(throws: AuditUnavailable.self) { try await audit.record(record) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
    }
}
