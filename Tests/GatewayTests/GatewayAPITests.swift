import Foundation
import Gateway
import GatewayConfig
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Minting
import PAMAuth
import Synchronization
import Testing

@Suite struct GatewayAPITests {
    typealias H = GatewayHarness

    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.cacheControl, "no-store"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
    ]

    func expectSecurityHeaders(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        for (name, value) in Self.securityHeaders {
            #expect(response.headers[name] == value, "\(name)", sourceLocation: sourceLocation)
        }
        #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, sourceLocation: sourceLocation)
    }

    @Test func loginReturnsTheURLForTheDefaultRole() async throws {
        let harness = H()
        try await harness.application().test(.live) { client in
            try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "alice", "password": "alice-pw"])) { response in
                #expect(response.status == .ok)
                #expect(response.json["role_arn"] as? String == H.readOnly)
                #expect(response.json["session_name"] as? String == "alice")
                #expect((response.json["url"] as? String)?.hasPrefix("https://signin.example/") == true)
                #expect(response.json["expires_at"] is String)
                expectSecurityHeaders(response)
            }
        }
        let audit = try #require(harness.auditLines.last)
        #expect(audit["outcome"] as? String == "success")
        #expect(audit["access_key_id"] as? String == "ASIAFAKEALICE")
        #expect(audit["front_end"] as? String == "api")
        #expect(audit["session_name"] as? String == "alice")
        let line = try String(contentsOf: harness.directory.appendingPathComponent("audit.jsonl"), encoding: .utf8)
        #expect(!line.contains("alice-pw"))
        #expect(!line.contains("tok-alice"))
    }

    @Test func aUserInTwoGroupsMayPickEitherRoleButNotAThird() async throws {
        try await H().application().test(.live) { client in
            for role in [H.admin, H.readOnly] {
                try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "bob", "password": "bob-pw", "role": role])) { response in
                    #expect(response.status == .ok)
                    #expect(response.json["role_arn"] as? String == role)
                }
            }
            try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "bob", "password": "bob-pw", "role": H.billing])) { response in
                #expect(response.status == .forbidden)
                #expect(response.json["allowed_roles"] as? [String] == [H.admin, H.readOnly])
                expectSecurityHeaders(response)
            }
            try await client.execute(uri: "/api/v1/roles", method: .get, headers: [.authorization: "Basic " + Data("bob:bob-pw".utf8).base64EncodedString()]) { response in
                #expect(response.status == .ok)
                #expect(response.json["roles"] as? [String] == [H.admin, H.readOnly])
            }
        }
    }

    /// No password oracle: the right password of an account that no access rule names (carol, root) answers
    /// exactly as a wrong one does, on the login route and on /roles, and PAM never runs for it.
    @Test func aNameNoRuleNamesRunsNoPAMAndLooksLikeAWrongPassword() async throws {
        let harness = H(perUser: 10, perAddress: 100)
        try await harness.application().test(.live) { client in
            for (user, password) in [("carol", "carol-pw"), ("root", "root-pw")] {
                let right = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": user, "password": password]))
                let wrong = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": user, "password": "nope"]))
                #expect(right.status == .unauthorized)
                #expect(right.body == wrong.body)
                let roles = try await client.execute(uri: "/api/v1/roles", method: .get,
                                                     headers: [.authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()])
                #expect(roles.status == .unauthorized)
                #expect(roles.body == wrong.body)
            }
        }
        #expect(harness.authenticator.calls.withLock { $0 } == 0)
        let outcomes = harness.auditLines.map { "\($0["outcome"] ?? "")|\($0["detail"] ?? "")" }
        #expect(outcomes.count == 6)
        #expect(outcomes.allSatisfy { $0 == "authentication_failed|no access rule names this user or their groups; PAM not run" }, "\(outcomes)")
    }

    /// /roles checks names as strictly as the login route: CR/LF/NUL and 257-byte names never reach PAM.
    @Test func rolesRefusesNamesTheLoginRouteRefuses() async throws {
        let harness = H(perUser: 100, perAddress: 100)
        try await harness.application().test(.live) { client in
            for user in ["alice\r\nX-Injected: 1", "alice\u{0}", String(repeating: "a", count: 257)] {
                let response = try await client.execute(uri: "/api/v1/roles", method: .get,
                                                        headers: [.authorization: "Basic " + Data("\(user):alice-pw".utf8).base64EncodedString()])
                #expect(response.status == .unauthorized)
            }
        }
        #expect(harness.authenticator.calls.withLock { $0 } == 0)
    }

    @Test func wrongPasswordAndUnknownUserLookAlike() async throws {
        try await H().application().test(.live) { client in
            let wrong = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "alice", "password": "nope"]))
            let unknown = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "mallory", "password": "nope"]))
            #expect(wrong.status == .unauthorized)
            #expect(unknown.status == .unauthorized)
            #expect(wrong.body == unknown.body)
            #expect(wrong.json["error"] as? String == "authentication failed")
            expectSecurityHeaders(wrong)
        }
    }

    @Test func failuresArePaddedToTheFloor() async throws {
        try await H(failureFloor: .milliseconds(300)).application().test(.live) { client in
            for user in ["alice", "nobody-at-all"] {
                let started = ContinuousClock.now
                let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": user, "password": "x"]))
                #expect(response.status == .unauthorized)
                #expect(ContinuousClock.now - started >= .milliseconds(300))
            }
        }
    }

    @Test func lockoutPerUserAcrossAddresses() async throws {
        // A trusted proxy lets the test speak from many addresses.
        let harness = H(trustedProxies: ["127.0.0.1"])
        try await harness.application().test(.live) { client in
            for index in 1...3 {
                let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "198.51.100.\(index)"],
                                                        body: H.json(["username": "alice", "password": "wrong"]))
                #expect(response.status == .unauthorized)
            }
            let locked = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "198.51.100.99"],
                                                  body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(locked.status == .tooManyRequests)
            let other = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "198.51.100.99"],
                                                 body: H.json(["username": "bob", "password": "bob-pw"]))
            #expect(other.status == .ok)
        }
        #expect(harness.auditLines.contains { $0["outcome"] as? String == "locked_out" && $0["client"] as? String == "198.51.100.99" })
    }

    @Test func lockoutPerAddressAcrossUsers() async throws {
        try await H(trustedProxies: ["127.0.0.1"]).application().test(.live) { client in
            for user in ["u1", "u2", "u3"] {
                _ = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "203.0.113.5"],
                                             body: H.json(["username": user, "password": "wrong"]))
            }
            let sameAddress = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "203.0.113.5"],
                                                       body: H.json(["username": "bob", "password": "bob-pw"]))
            #expect(sameAddress.status == .tooManyRequests)
            let otherAddress = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "203.0.113.6"],
                                                        body: H.json(["username": "bob", "password": "bob-pw"]))
            #expect(otherAddress.status == .ok)
        }
    }

    @Test func lockedExistingAndUnknownUsersLookAlike() async throws {
        try await H(trustedProxies: ["127.0.0.1"]).application().test(.live) { client in
            var answers: [TestResponse] = []
            for user in ["alice", "no-such-user"] {
                for index in 1...4 {
                    let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "192.0.2.\(index)"],
                                                            body: H.json(["username": user, "password": "wrong"]))
                    if index == 4 { answers.append(response) }
                }
            }
            #expect(answers.map(\.status) == [.tooManyRequests, .tooManyRequests])
            #expect(answers[0].body == answers[1].body)
        }
    }

    @Test func untrustedForwardedForIsIgnored() async throws {
        let harness = H(trustedProxies: [])
        try await harness.application().test(.live) { client in
            _ = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: "203.0.113.77"],
                                         body: H.json(["username": "alice", "password": "wrong"]))
        }
        #expect(harness.auditLines.last?["client"] as? String == "127.0.0.1")
    }

    @Test func onlyJSONIsAccepted() async throws {
        try await H().application().test(.live) { client in
            let form = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "username=alice&password=alice-pw"))
            #expect(form.status == .unsupportedMediaType)
            expectSecurityHeaders(form)
            let none = try await client.execute(uri: "/api/v1/login", method: .post, body: ByteBuffer(string: "{}"))
            #expect(none.status == .unsupportedMediaType)
            let malformed = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: ByteBuffer(string: #"{"username": 5}"#))
            #expect(malformed.status == .badRequest)
        }
    }

    @Test func oversizedBodyIsRefused() async throws {
        try await H().application().test(.live) { client in
            let big = ByteBuffer(string: #"{"username":"alice","password":""# + String(repeating: "a", count: GatewayContext.bodyLimit) + #""}"#)
            let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: big)
            #expect(response.status == .contentTooLarge)
            expectSecurityHeaders(response)
        }
    }

    @Test func crossSiteRequestsAreRefused() async throws {
        try await H().application().test(.live) { client in
            let crossSite = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", HTTPField.Name("Sec-Fetch-Site")!: "cross-site"],
                                                     body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(crossSite.status == .forbidden)
            expectSecurityHeaders(crossSite)
            let foreignOrigin = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", .origin: "https://evil.example"],
                                                         body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(foreignOrigin.status == .forbidden)
            // What Chromium sends for our own form under Referrer-Policy: no-referrer.
            let nullSameOrigin = try await client.execute(uri: "/api/v1/login", method: .post,
                                                          headers: [.contentType: "application/json", .origin: "null", HTTPField.Name("Sec-Fetch-Site")!: "same-origin"],
                                                          body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(nullSameOrigin.status == .ok)
            let nullAlone = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", .origin: "null"],
                                                     body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(nullAlone.status == .forbidden)
            let ownOrigin = try await client.execute(uri: "/api/v1/login", method: .post, headers: [.contentType: "application/json", .origin: "http://localhost"],
                                                     body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(ownOrigin.status == .ok)
        }
    }

    @Test func headersOnNotFoundToo() async throws {
        try await H().application().test(.live) { client in
            let response = try await client.execute(uri: "/nowhere", method: .get)
            #expect(response.status == .notFound)
            expectSecurityHeaders(response)
        }
    }

    @Test func auditUnwritableMeansNoURL() async throws {
        let harness = H(auditPath: "/proc/consolegate-cannot-write-here/audit.jsonl")
        try await harness.application().test(.live) { client in
            let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(response.status == .serviceUnavailable)
            #expect((response.json["error"] as? String)?.contains("audit") == true)
            #expect(response.json["url"] == nil)
        }
        // The record of intent could not be written, so AWS was not even asked.
        #expect(harness.minter.mints.withLock { $0 } == 0)
    }

    /// Whatever happens, an attempt leaves exactly one outcome line; one that reached AWS also leaves the
    /// record of intent written before it, with the same request id.
    @Test(arguments: [
        ("alice", "wrong", nil, nil, ["authentication_failed"]),
        ("alice", "alice-pw", Self.billingRole, nil, ["role_not_allowed"]),
        ("alice", "alice-pw", nil, MintingError.awsRefused(operation: "AssumeRole", code: "AccessDenied", message: "no"), ["minting", "aws_refused"]),
        ("alice", "alice-pw", nil, nil, ["minting", "success"]),
    ] as [(String, String, String?, MintingError?, [String])])
    func eachAttemptEndsInExactlyOneOutcomeLine(user: String, password: String, role: String?, failure: MintingError?, lines: [String]) async {
        let harness = H(minter: FakeMinter(failure: failure))
        _ = await serviceResult(try await harness.service.login(Self.login(user, password, role: role)))
        #expect(harness.auditLines.map { $0["outcome"] as? String } == lines)
        #expect(Set(harness.auditLines.compactMap { $0["request_id"] as? String }) == ["req-1"])
    }

    @Test func aLoginCancelledWhileAWSWorksEndsInOneOutcomeLine() async throws {
        let harness = H(minter: FakeMinter(delay: .seconds(60)))
        let login = Task { await serviceResult(try await harness.service.login(Self.login("alice", "alice-pw"))) }
        // Until the record of intent is on disk, that is, until AWS is being asked (bounded: 10 s).
        let deadline = ContinuousClock.now + .seconds(10)
        while !harness.auditLines.contains(where: { $0["outcome"] as? String == "minting" }), ContinuousClock.now < deadline {
            await Task.yield()
        }
        login.cancel()
        guard case .failure(let failure) = try await login.value else { Issue.record("a cancelled login granted"); return }
        #expect(failure == .clientGone)
        #expect(harness.auditLines.map { $0["outcome"] as? String } == ["minting", "client_gone"])
        #expect(harness.minter.mints.withLock { $0 } == 0)
    }

    static let billingRole = H.billing

    static func login(_ user: String, _ password: String, role: String? = nil) -> LoginAttempt {
        LoginAttempt(user: user, secrets: [.password: SecretBytes(copying: Array(password.utf8))], role: role, frontEnd: .api, client: "192.0.2.9", requestId: "req-1")
    }

    @Test func awsFailuresAreBadGatewayOrUnavailable() async throws {
        try await H(minter: FakeMinter(failure: .awsRefused(operation: "AssumeRole", code: "AccessDenied", message: "no"))).application().test(.live) { client in
            let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(response.status == .badGateway)
            #expect((response.json["error"] as? String)?.contains("AccessDenied") == true)
        }
        try await H(minter: FakeMinter(failure: .upstreamUnavailable(operation: "AssumeRole", reason: "timeout"))).application().test(.live) { client in
            let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders, body: H.json(["username": "alice", "password": "alice-pw"]))
            #expect(response.status == .serviceUnavailable)
        }
    }

    @Test func credentialProcessFormat() async throws {
        try await H().application().test(.live) { client in
            let response = try await client.execute(uri: "/api/v1/login", method: .post, headers: H.jsonHeaders,
                                                    body: H.json(["username": "alice", "password": "alice-pw", "format": "credential-process"]))
            #expect(response.status == .ok)
            #expect(response.json["Version"] as? Int == 1)
            #expect(response.json["SessionToken"] as? String == "token")
        }
    }
}

/// The memory backend against a clock the test moves; the behaviour both backends share is in
/// GatewayStoreTests/StateConformanceTests.
@Suite struct MemoryStateClockTests {
    final class ManualClock: Sendable {
        let current = Mutex(ContinuousClock.now)
        func now() -> ContinuousClock.Instant { current.withLock { $0 } }
        func advance(_ duration: Duration) { current.withLock { $0 += duration } }
    }

    static func tracker(perUser: Int = 3, perAddress: Int = 100, perUserInFlight: Int = 1, window: Duration = .seconds(60), clock: ManualClock = ManualClock()) -> MemoryState {
        MemoryState(limits: LockoutSettings(perUser: perUser, perAddress: perAddress, perUserInFlight: perUserInFlight, window: window, duration: .seconds(120)),
                       now: { clock.now() })
    }

    /// Admits and finishes one attempt; false when it was not admitted.
    static func attempt(_ tracker: MemoryState, _ user: String, from address: String = "192.0.2.1", device: String? = nil,
                        succeeding: Bool = false) async -> Bool {
        guard case .admitted(let ticket) = await tracker.admit(user: user, address: address, device: device) else { return false }
        await tracker.finish(ticket, succeeded: succeeding)
        return true
    }

    @Test func locksAfterPerUserFailuresAndExpires() async {
        let clock = ManualClock()
        let tracker = Self.tracker(clock: clock)
        for _ in 1...3 { #expect(await Self.attempt(tracker, "alice")) }
        #expect(await tracker.isLocked(.user("alice")))
        #expect(await !Self.attempt(tracker, "alice", from: "192.0.2.9"))
        clock.advance(.seconds(119))
        #expect(await tracker.isLocked(.user("alice")))
        clock.advance(.seconds(2))
        #expect(await Self.attempt(tracker, "alice", succeeding: true))
    }

    @Test func failuresOutsideTheWindowDoNotCount() async {
        let clock = ManualClock()
        let tracker = Self.tracker(perUser: 2, window: .seconds(10), clock: clock)
        #expect(await Self.attempt(tracker, "alice"))
        clock.advance(.seconds(11))
        #expect(await Self.attempt(tracker, "alice"))
        #expect(await !tracker.isLocked(.user("alice")))
    }
}
