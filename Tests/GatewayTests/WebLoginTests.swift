import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The login page through the real routes (with stand-in PAM and minting): CSRF, the 303 to the console,
/// the role chooser, and the generic failure.
@Suite struct WebLoginTests {
    typealias H = GatewayHarness

    struct Session {
        var cookie: String
        var csrf: String
    }

    /// Loads the page as a browser would: the cookie it sets and the token its form repeats.
    func open(_ client: some TestClientProtocol) async throws -> Session {
        try await client.execute(uri: "/", method: .get) { response in
            #expect(response.status == .ok)
            let setCookie = try #require(response.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            let cookie = String(setCookie.prefix { $0 != ";" })
            let page = String(buffer: response.body)
            let marker = #"name="csrf" value=""#
            let start = try #require(page.range(of: marker)).upperBound
            return Session(cookie: cookie, csrf: String(page[start...].prefix { $0 != "\"" }))
        }
    }

    func post(_ client: some TestClientProtocol, _ path: String, _ session: Session, _ form: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: session.cookie],
                                 body: ByteBuffer(string: form))
    }

    @Test func pageIsLabelledAndScriptFree() async throws {
        try await H().application().test(.live) { client in
            try await client.execute(uri: "/", method: .get) { response in
                let page = String(buffer: response.body)
                for field in ["username", "password", "logout_first"] {
                    #expect(page.contains(#"<label for="\#(field)""#))
                    #expect(page.contains(#"id="\#(field)""#))
                }
                #expect(!page.contains("<script"))
                #expect(!page.contains("style="))
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            }
            try await client.execute(uri: "/static/consolegate.css", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/css") == true)
            }
        }
    }

    @Test func signInRedirectsToTheConsole() async throws {
        try await H().application().test(.live) { client in
            let session = try await open(client)
            let response = try await post(client, "/login", session, "csrf=\(session.csrf)&username=alice&password=alice-pw")
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "https://signin.example/federation?Action=login&SigninToken=tok-alice")
        }
    }

    @Test func missingOrForeignCSRFTokenIsRefused() async throws {
        try await H().application().test(.live) { client in
            let session = try await open(client)
            let other = try await open(client)
            let missing = try await post(client, "/login", session, "username=alice&password=alice-pw")
            #expect(missing.status == .forbidden)
            var foreign = session
            foreign.csrf = other.csrf
            let mismatched = try await post(client, "/login", foreign, "csrf=\(other.csrf)&username=alice&password=alice-pw")
            #expect(mismatched.status == .forbidden)
            #expect(mismatched.headers[.location] == nil)
        }
    }

    @Test func failureShowsOneGenericMessage() async throws {
        try await H().application().test(.live) { client in
            let session = try await open(client)
            for user in ["alice", "nobody"] {
                let response = try await post(client, "/login", session, "csrf=\(session.csrf)&username=\(user)&password=wrong")
                #expect(response.status == .unauthorized)
                let page = String(buffer: response.body)
                #expect(page.contains(#"id="error" class="error" role="alert">Sign-in failed. Check your user name and password, and try again.</p>"#))
            }
        }
    }

    @Test func userWithSeveralRolesChoosesOne() async throws {
        try await H().application().test(.live) { client in
            let session = try await open(client)
            let chooser = try await post(client, "/login", session, "csrf=\(session.csrf)&username=bob&password=bob-pw")
            #expect(chooser.status == .ok)
            let page = String(buffer: chooser.body)
            #expect(page.contains(#"id="role-0" name="role" type="radio" value="\#(H.admin)""#))
            #expect(page.contains(#"id="role-1" name="role" type="radio" value="\#(H.readOnly)""#))
            let marker = #"name="pending" value=""#
            let pending = String(page[try #require(page.range(of: marker)).upperBound...].prefix { $0 != "\"" })
            let role = H.readOnly.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let chosen = try await post(client, "/login/role", session, "csrf=\(session.csrf)&pending=\(pending)&role=\(role)")
            #expect(chosen.status == .seeOther)
            #expect(chosen.headers[.location]?.contains("tok-bob") == true)
            let replay = try await post(client, "/login/role", session, "csrf=\(session.csrf)&pending=\(pending)&role=\(role)")
            #expect(replay.status == .forbidden)
        }
    }

    /// The second step takes an `AuthenticatedUser` that only a first step can leave behind: a made-up or
    /// absent pending value, even with a valid CSRF pair, mints nothing.
    @Test func theRoleStepCannotMintWithoutAPendingAuthentication() async throws {
        let harness = H()
        try await harness.application().test(.live) { client in
            let session = try await open(client)
            let role = H.admin.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            for pending in ["", "pending=\(String(repeating: "A", count: 43))&"] {
                let refused = try await post(client, "/login/role", session, "csrf=\(session.csrf)&\(pending)role=\(role)")
                #expect(refused.status == .forbidden)
            }
        }
        #expect(harness.minter.mints.withLock { $0 } == 0)
        #expect(harness.auditLines.isEmpty)
    }

    @Test func infoTellsClientsWhatToAskFor() async throws {
        try await H().application().test(.live) { client in
            try await client.execute(uri: "/api/v1/info", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["secrets"] as? [String] == ["password"])
                #expect(response.json["logout_first"] as? Bool == false)
            }
        }
    }
}
