import Foundation
@testable import Gateway
import GatewayConfig
import GatewayStore
import Hummingbird
import HummingbirdTesting
import PAMAuth
import Testing

/// Per-rule policy: the admin role needs a one-time code on top of the password, checked by its own PAM
/// service after the base one; every front end (API, web chooser, socket) keeps to it, and nothing is minted
/// without it. Real pam_oath behind it is in DaemonEndToEndTests, Chromium's chooser in browser_test.py.
@Suite struct StepUpTests {
    typealias H = GatewayHarness

    static func attempt(_ user: String, password: String, otp: String? = nil, role: String? = nil, frontEnd: FrontEnd = .api,
                        requestId: String = UUID().uuidString) -> LoginAttempt {
        var secrets: [SecretKind: SecretBytes] = [.password: SecretBytes(copying: Array(password.utf8))]
        if let otp { secrets[.otp] = SecretBytes(copying: Array(otp.utf8)) }
        return LoginAttempt(user: user, secrets: secrets, role: role, frontEnd: frontEnd, client: "192.0.2.20", requestId: requestId)
    }

    func outcome(_ harness: H, _ requestId: String) -> [String] {
        harness.auditLines.filter { $0["request_id"] as? String == requestId }.compactMap { $0["outcome"] as? String }
    }

    @Test func theAPIGrantsAStepUpRoleOnlyWithItsCode() async throws {
        let harness = H(perUser: 10, perAddress: 100, adminStepUp: true)
        let service = harness.service
        // Password only: the base service says yes, the missing code counts as a failed guess; nothing minted.
        let passwordOnly = await serviceResult(try await service.login(Self.attempt("bob", password: "bob-pw", role: H.admin, requestId: "p1")))
        #expect(passwordOnly.failure == .authenticationFailed)
        #expect(harness.authenticator.services.withLock { $0 } == ["consolegate"])
        #expect((harness.auditLines.last?["detail"] as? String)?.contains("otp not given") == true)
        // No role asked for: the first of bob's rules is the admin role, which needs the code as well.
        #expect(await serviceResult(try await service.login(Self.attempt("bob", password: "bob-pw"))).failure == .authenticationFailed)
        let wrongCode = await serviceResult(try await service.login(Self.attempt("bob", password: "bob-pw", otp: "000000", role: H.admin)))
        #expect(wrongCode.failure == .authenticationFailed)
        #expect(harness.authenticator.services.withLock { $0 }.suffix(2) == ["consolegate", FakeAuthenticator.stepUpService])
        #expect(harness.minter.mints.withLock { $0 } == 0)
        let granted = await serviceResult(try await service.login(Self.attempt("bob", password: "bob-pw", otp: "123456", role: H.admin, requestId: "g1")))
        #expect(granted.isSuccess)
        #expect(self.outcome(harness, "g1") == ["minting", "success"])
        // The code is spent: the same one again is a reused code, wherever it is tried.
        let again = await serviceResult(try await service.login(Self.attempt("bob", password: "bob-pw", otp: "123456", role: H.admin, requestId: "g2")))
        #expect(again.failure == .authenticationFailed)
        #expect(self.outcome(harness, "g2") == ["code_reused"])
        // The read-only role needs the password alone, and its rule's region reaches the mint.
        #expect(await serviceResult(try await service.login(Self.attempt("bob", password: "bob-pw", role: H.readOnly))).isSuccess)
        #expect(harness.minter.requests.withLock { $0.last?.region } == "eu-west-1")
        #expect(harness.minter.mints.withLock { $0 } == 2)
    }

    /// The web: the chooser offers both roles by label and says which needs a code; picking the admin role
    /// without it keeps the choice pending; with a wrong code the choice is spent; with the right one, a URL.
    @Test func theWebChooserAsksForTheCodeBeforeMinting() async throws {
        let harness = H(perUser: 10, perAddress: 100, adminStepUp: true)
        let service = harness.service
        let csrf = RandomToken.make()
        func signIn() async throws -> (token: String, offers: [RoleOffer]) {
            guard case .success(.chooseRole(let token, let offers)) = await serviceResult(try await service.webLogin(Self.attempt("bob", password: "bob-pw", frontEnd: .web), csrf: csrf)) else {
                throw TestFailure("no role choice")
            }
            return (token, offers)
        }
        let (token, offers) = try await signIn()
        #expect(offers == [RoleOffer(role: H.admin, label: "Administrator", stepUpSecrets: [.otp]), RoleOffer(role: H.readOnly, label: "Read-only", stepUpSecrets: [])])
        var pick = Self.attempt("", password: "", role: H.admin, frontEnd: .web)
        pick.secrets = [:]
        #expect(await serviceResult(try await service.chosenRole(token: token, csrf: csrf, pick)).failure == .stepUpRequired(role: H.admin, secrets: [.otp]))
        pick.secrets = [.otp: SecretBytes(copying: Array("123456".utf8))]
        let chosen = await serviceResult(try await service.chosenRole(token: token, csrf: csrf, pick))
        #expect(chosen.isSuccess, "the pending choice survived the missing code")
        #expect(harness.authenticator.services.withLock { $0 }.last == FakeAuthenticator.stepUpService)

        let (second, _) = try await signIn()
        pick.secrets = [.otp: SecretBytes(copying: Array("999999".utf8))]
        #expect(await serviceResult(try await service.chosenRole(token: second, csrf: csrf, pick)).failure == .authenticationFailed)
        pick.secrets = [.otp: SecretBytes(copying: Array("123456".utf8))]
        #expect(await serviceResult(try await service.chosenRole(token: second, csrf: csrf, pick)).failure == .choiceExpired)
        #expect(harness.minter.mints.withLock { $0 } == 1)
    }

    /// A second step that names no role gets the first role, as any grant does, and so its step-up too.
    @Test func aChoiceWithoutARoleStillStepsUp() async throws {
        let harness = H(perUser: 10, perAddress: 100, adminStepUp: true)
        let csrf = RandomToken.make()
        guard case .success(.chooseRole(let token, _)) = await serviceResult(try await harness.service.webLogin(Self.attempt("bob", password: "bob-pw", frontEnd: .web), csrf: csrf)) else {
            Issue.record("no role choice")
            return
        }
        var pick = Self.attempt("", password: "", frontEnd: .web)
        pick.secrets = [:]
        #expect(await serviceResult(try await harness.service.chosenRole(token: token, csrf: csrf, pick)).failure == .authenticationFailed)
        #expect(harness.minter.mints.withLock { $0 } == 0)
    }

    /// Someone whose only role needs a step-up still sees the chooser, to give the code.
    @Test func aLoneStepUpRoleIsChosenWithItsCode() async throws {
        let harness = H(perUser: 10, perAddress: 100, adminStepUp: true)
        let result = await serviceResult(try await harness.service.webLogin(Self.attempt("dana", password: "dana-pw", frontEnd: .web), csrf: RandomToken.make()))
        guard case .success(.chooseRole(_, let offers)) = result else {
            Issue.record("expected a role choice, got \(result)")
            return
        }
        #expect(offers.map(\.stepUpSecrets) == [[.otp]])
    }

    /// The socket carries no secrets: a step-up role is refused there, before PAM, with what it needs.
    @Test func theSocketRefusesAStepUpRole() async throws {
        let harness = H(perUser: 10, perAddress: 100, adminStepUp: true)
        let refused = await serviceResult(try await harness.service.socketLogin(uid: 1003, role: nil, destination: nil, wantsCredentials: false, requestId: "s1"))
        #expect(refused.failure == .stepUpRequired(role: H.admin, secrets: [.password, .otp]))
        #expect(harness.authenticator.calls.withLock { $0 } == 0)
        #expect(self.outcome(harness, "s1") == ["step_up_required"])
        #expect(await serviceResult(try await harness.service.socketLogin(uid: 1003, role: H.readOnly, destination: nil, wantsCredentials: false, requestId: "s2")).isSuccess)
    }

    /// /api/v1/roles (base sign-in only) lists each role with its label and step-up; /api/v1/info what may be needed.
    @Test func theAPIListsWhatEachRoleNeeds() async throws {
        let harness = H(perUser: 10, perAddress: 100, adminStepUp: true)
        try await harness.application().test(.live) { client in
            let info = try await client.execute(uri: "/api/v1/info", method: .get)
            #expect(info.json["secrets"] as? [String] == ["password"])
            #expect(info.json["step_up_secrets"] as? [String] == ["otp"])
            let roles = try await client.execute(uri: "/api/v1/roles", method: .post, headers: H.jsonHeaders,
                                                 body: H.json(["username": "bob", "password": "bob-pw"]))
            #expect(roles.status == .ok)
            #expect(roles.json["roles"] as? [String] == [H.admin, H.readOnly])
            let offers = try #require(roles.json["offers"] as? [[String: Any]])
            #expect(offers.map { $0["label"] as? String } == ["Administrator", "Read-only"])
            #expect(offers.map { $0["step_up_secrets"] as? [String] } == [["otp"], []])
        }
        #expect(harness.authenticator.services.withLock { $0 } == ["consolegate"])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
    var failure: Failure? { if case .failure(let failure) = self { failure } else { nil } }
}
