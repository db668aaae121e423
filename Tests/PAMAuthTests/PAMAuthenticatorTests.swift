import Foundation
import Testing
import TestSupport

@testable import PAMAuth

/// Real libpam through pam_wrapper: pam_matrix for passwords, pam_oath for one-time codes, pam_exec for a
/// module that hangs, all in the helper process the product uses. Serialized: pam_wrapper 1.1.4 picks its
/// per-process directory (/tmp/pam.X) racily, so two wrapped processes starting together can fail.
@Suite(.serialized, .pamWrapperTurn) final class PAMAuthenticatorTests {
    let fixture: PAMFixture

    init() throws {
        fixture = try PAMFixture()
    }

    deinit {
        fixture.remove()
    }

    func authenticate(_ user: String, _ secrets: [SecretBytes], service: String = "cgtest", timeout: Duration = .seconds(10)) async -> PAMOutcome {
        await fixture.authenticator(service: service, timeout: timeout).authenticate(PAMRequest(service: service, user: user, remoteHost: "192.0.2.10", tty: "http"), secrets: secrets)
    }

    @Test func rightPasswordSucceeds() async {
        let outcome = await authenticate("alice", PAMFixture.secrets("alice-secret"))
        #expect(outcome.verdict == .success, "\(outcome.detail)")
    }

    @Test func wrongPasswordAndUnknownUserFailAlike() async {
        let wrong = await authenticate("alice", PAMFixture.secrets("nope"))
        let unknown = await authenticate("nobody", PAMFixture.secrets("nope"))
        #expect(wrong.verdict == .authenticationFailed)
        #expect(unknown.verdict == .authenticationFailed)
        #expect(wrong.detail == unknown.detail)
    }

    @Test func accountPhaseRefusing() async {
        // bob's password is right, but pam_matrix's account phase only admits him to another service.
        let outcome = await authenticate("bob", PAMFixture.secrets("bob-secret"))
        #expect(outcome.verdict == .accountRefused, "\(outcome.detail)")
    }

    @Test func accountOnlyModeSkipsAuthentication() async {
        let authenticator = fixture.authenticator()
        let alice = await authenticator.run(PAMRequest(service: "cgtest", user: "alice", mode: .account, tty: "ssh"), responder: SecretsResponder(secrets: []))
        #expect(alice.verdict == .success, "\(alice.detail)")
        let bob = await authenticator.run(PAMRequest(service: "cgtest", user: "bob", mode: .account, tty: "ssh"), responder: SecretsResponder(secrets: []))
        #expect(bob.verdict == .accountRefused)
    }

    @Test func noAnswerFailsClosed() async {
        let outcome = await authenticate("alice", [])
        #expect(outcome.verdict == .authenticationFailed)
    }

    @Test func secretOverPAMLimitIsRefusedBeforePAM() async {
        let long = String(repeating: "a", count: SecretBytes.maximumLength + 1)
        try? fixture.service("cgtest", "auth required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)\naccount required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)")
        let outcome = await authenticate("alice", PAMFixture.secrets(long))
        #expect(outcome.verdict == .authenticationFailed)
        #expect(outcome.detail.contains("refused before PAM"))
    }

    @Test func stackNamingAMissingModuleFails() async throws {
        try fixture.service("broken", "auth required /nonexistent/pam_consolegate_missing.so\naccount required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)")
        let outcome = await authenticate("alice", PAMFixture.secrets("alice-secret"), service: "broken")
        #expect(outcome.verdict == .authenticationFailed, "\(outcome.detail)")
    }

    @Test func failDelayIsReportedAndWaitedOut() async throws {
        try fixture.service("delayed", """
        auth    optional \(PAMFixture.modules)/pam_faildelay.so delay=700000
        auth    required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        account required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        """)
        let started = ContinuousClock.now
        let outcome = await authenticate("alice", PAMFixture.secrets("wrong"), service: "delayed")
        #expect(outcome.verdict == .authenticationFailed)
        // Linux-PAM adds Gaussian jitter around the 0.7 s asked for (_pam_compute_delay), so only its scale is certain.
        #expect(outcome.failDelay > .zero && outcome.failDelay < .milliseconds(3500), "\(outcome.failDelay)")
        #expect(ContinuousClock.now - started >= outcome.failDelay)
    }

    @Test func passwordThenTOTPThroughPamOath() async throws {
        let secretHex = "3132333435363738393031323334353637383930"
        let oathDirectory = fixture.directory.appendingPathComponent("oath")
        try FileManager.default.createDirectory(at: oathDirectory, withIntermediateDirectories: true)
        let usersFile = oathDirectory.appendingPathComponent("users.oath")
        try "HOTP/T30/6 alice - \(secretHex)\n".write(to: usersFile, atomically: true, encoding: .utf8)
        try fixture.service("otp", """
        auth    requisite \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        auth    required \(PAMFixture.modules)/pam_oath.so usersfile=\(usersFile.path) window=2 digits=6
        account required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        """)
        try fixture.service("cgtest-otp-passdb", "")
        // pam_matrix checks the service name in the passdb during the account phase.
        try "alice:alice-secret:otp\n".write(to: fixture.passdb, atomically: true, encoding: .utf8)
        let code = try OneTimeCode.now(secretHex: secretHex)
        let first = await authenticate("alice", PAMFixture.secrets("alice-secret", code), service: "otp")
        #expect(first.verdict == .success, "\(first.detail)")
        let replay = await authenticate("alice", PAMFixture.secrets("alice-secret", code), service: "otp")
        #expect(replay.verdict == .authenticationFailed, "a used code must not work twice")
        let wrongCode = await authenticate("alice", PAMFixture.secrets("alice-secret", "000000" == code ? "111111" : "000000"), service: "otp")
        #expect(wrongCode.verdict == .authenticationFailed)
    }

    @Test func aMonitorThatExitedRunsNoPAM() async throws {
        let authenticator = try PAMAuthenticator(monitorExecutable: "/bin/true", service: "cgtest", callerEnvironment: [:])
        while !authenticator.monitor.hasExited { await Task.yield() }
        let outcome = await authenticator.authenticate(PAMRequest(service: "cgtest", user: "alice"), secrets: PAMFixture.secrets("alice-secret"))
        #expect(outcome.verdict == .unavailable)
    }

    @Test func aMonitorThatStartsNoWorkerIsAFailure() async throws {
        // Takes the control messages and drops them: the transaction socket's other end closes unanswered.
        let script = fixture.directory.appendingPathComponent("fake-monitor").path
        try "#!/bin/sh\nexec cat >/dev/null\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let outcome = await (try PAMAuthenticator(monitorExecutable: script, service: "cgtest", callerEnvironment: [:]))
            .authenticate(PAMRequest(service: "cgtest", user: "alice"), secrets: PAMFixture.secrets("alice-secret"))
        #expect(outcome.verdict == .helperFailed)
    }

    @Test func helperEnvironmentIsMinimal() {
        let environment = PAMAuthenticator.helperEnvironment(from: fixture.callerEnvironment)
        #expect(environment["PAM_WRAPPER"] == "1")
        #expect(environment["LD_PRELOAD"] == "libpam_wrapper.so")
        #expect(environment["SOMETHING_PRIVATE"] == nil)
        #expect(environment["HOME"] == nil)
        #expect(environment["PATH"] != nil)
    }
}

/// Nothing is left behind: no process, no descriptor. Counting them needs a quiet process, so
/// scripts/test.sh runs these suites on their own (`--filter LeakTests`).
@Suite(.serialized) struct PAMLeakTests {
    @Test func hangingModuleIsKilledAtTheDeadline() async throws {
        let fixture = try PAMFixture()
        defer { fixture.remove() }
        let marker = "\(Int.random(in: 100_000...999_999))"
        try fixture.service("hang", """
        auth    required \(PAMFixture.modules)/pam_exec.so /bin/sleep \(marker)
        account required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
        """)
        let started = ContinuousClock.now
        let outcome = await fixture.authenticator(service: "hang", timeout: .seconds(2)).authenticate(PAMRequest(service: "hang", user: "alice"), secrets: PAMFixture.secrets("alice-secret"))
        let elapsed = ContinuousClock.now - started
        #expect(outcome.verdict == .helperFailed)
        #expect(outcome.detail.contains("killed"))
        #expect(elapsed < .seconds(3))
        // The monitor kills the worker's tree at its own deadline, a moment after the daemon's.
        await ProcessCensus.settle { ProcessCensus.running(marker: "sleep \(marker)").isEmpty && ProcessCensus.helpers().isEmpty }
        #expect(ProcessCensus.running(marker: "sleep \(marker)").isEmpty, "pam_exec's sleep survived")
        #expect(ProcessCensus.helpers().isEmpty)
        // A helper killed mid-transaction cannot remove pam_wrapper's copy of the services (/tmp/pam.X);
        // remove ours so repeated runs do not use up pam_wrapper's 62 slots.
        for directory in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [] where directory.hasPrefix("pam.") {
            if let copy = try? String(contentsOfFile: "/tmp/\(directory)/hang", encoding: .utf8), copy.contains(marker) {
                try? FileManager.default.removeItem(atPath: "/tmp/\(directory)")
            }
        }
    }

    /// A module whose child double-forks (setsid -f) leaves nothing behind, whether the transaction succeeds,
    /// fails or hits the deadline.
    @Test func aDoubleForkedChildDoesNotOutliveItsTransaction() async throws {
        let fixture = try PAMFixture()
        defer { fixture.remove() }
        for (index, (secret, extra, timeout)) in [("alice-secret", "", 10), ("wrong", "", 10), ("alice-secret", "auth required \(PAMFixture.modules)/pam_exec.so /bin/sleep 30\n", 2)].enumerated() {
            let marker = "\(Int.random(in: 100_000...999_999))"
            // pam_matrix admits alice to cgtest only; each case's monitor copies the stack as it is then.
            let service = "cgtest"
            try fixture.service(service, """
            auth    optional \(PAMFixture.modules)/pam_exec.so /usr/bin/setsid -f /bin/sleep \(marker)
            \(extra)auth    required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
            account required \(PAMFixture.matrix) passdb=\(fixture.passdb.path)
            """)
            let outcome = await fixture.authenticator(service: service, timeout: .seconds(timeout))
                .authenticate(PAMRequest(service: service, user: "alice"), secrets: PAMFixture.secrets(secret))
            #expect(outcome.verdict == [.success, .authenticationFailed, .helperFailed][index], "\(outcome.detail)")
            await ProcessCensus.settle { ProcessCensus.running(marker: "sleep \(marker)").isEmpty }
            #expect(ProcessCensus.running(marker: "sleep \(marker)").isEmpty, "case \(index): the double-forked sleep survived")
        }
    }

    /// Real pam_unix (pam_wrapper cannot run many processes at once): ten throwaway users, five attempts each.
    @Test(.enabled(if: getuid() == 0, "pam_unix verifies other users' passwords only as root"))
    func fiftyConcurrentAuthentications() async throws {
        let fixture = try SystemPAMFixture(userCount: 10)
        defer { fixture.remove() }
        // A success and a failure first, so whatever the runtime opens once and keeps (the timer behind the
        // fail delay's sleep) is open before counting.
        #expect(await fixture.authenticate(fixture.users[0].name, fixture.users[0].password).verdict == .success)
        #expect(await fixture.authenticate(fixture.users[0].name, "wrong").verdict == .authenticationFailed)
        let descriptorsBefore = ProcessCensus.openDescriptors()
        let results = await withTaskGroup(of: (Int, PAMOutcome).self) { group in
            for index in 0..<50 {
                let user = fixture.users[index % 10]
                // Every third one uses a wrong password.
                let password = index % 3 == 0 ? "wrong" : user.password
                group.addTask { (index, await fixture.authenticate(user.name, password)) }
            }
            return await group.reduce(into: [Int: PAMOutcome]()) { $0[$1.0] = $1.1 }
        }
        for index in 0..<50 {
            #expect(results[index]?.verdict == (index % 3 == 0 ? .authenticationFailed : .success), "attempt \(index): \(results[index]?.detail ?? "")")
        }
        await ProcessCensus.settle { ProcessCensus.helpers().isEmpty && ProcessCensus.openDescriptors() == descriptorsBefore }
        #expect(ProcessCensus.openDescriptors() == descriptorsBefore)
        #expect(ProcessCensus.helpers().isEmpty)
    }
}
