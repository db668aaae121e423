import Foundation
import GatewayAPI
import Testing
import Yams
@testable import Gateway

/// The one table of failures: each login failure answers with its row's status, `failure` and `Retry-After`,
/// the CLI reads its exit code from the same row, and docs/openapi.yaml names every failure there is.
@Suite struct FailureTableTests {
    static let everyLoginFailure: [LoginFailure] = [
        .authenticationFailed, .accountRefused, .lockedOut, .noRole, .roleNotAllowed(requested: "arn:aws:iam::1:role/A", allowed: ["arn:aws:iam::1:role/B"]),
        .awsRefused("AccessDenied"), .upstreamUnavailable("timed out"), .auditUnavailable, .invalidRequest("format must be url or credential-process"),
        .clientGone, .busy, .pamUnavailable, .stateUnavailable, .choiceExpired, .stepUpRequired(role: "arn:aws:iam::1:role/A", secrets: [.otp]),
    ]

    @Test(arguments: everyLoginFailure)
    func aLoginFailureAnswersAsItsRowSays(_ failure: LoginFailure) throws {
        let refusal = Refusal(failure.answer)
        #expect(refusal.status.code == failure.row.failure.status)
        #expect(failure.status == refusal.status)
        #expect(refusal.response.headers[.retryAfter] == failure.row.failure.retryAfter.map(String.init))
        let decoded = try #require(APIJSON.decode(ErrorAnswer.self, from: APIJSON.encode(failure.answer)))
        #expect(decoded == failure.answer)
        #expect(decoded.failure == failure.row.failure)
    }

    @Test func onlyTheRefusalsThatNeedThemCarryRolesOrSecrets() {
        for failure in Self.everyLoginFailure {
            switch failure {
            case .roleNotAllowed(_, let allowed): #expect(failure.answer.allowedRoles == allowed)
            case .stepUpRequired(_, let secrets): #expect(failure.answer.secrets == secrets.map(\.rawValue))
            default: #expect(failure.answer.allowedRoles == nil && failure.answer.secrets == nil)
            }
        }
    }

    @Test func authenticationFailuresSayNothingMore() {
        #expect(LoginFailure.authenticationFailed.answer == ErrorAnswer(.authenticationFailed, "authentication failed"))
        #expect(LoginFailure.authenticationFailed.row.page == WebPages.genericFailure)
    }

    @Test(arguments: Failure.allCases)
    func everyFailureIsARefusalWithAnExitCode(_ failure: Failure) {
        #expect((400...599).contains(failure.status))
        #expect(failure.exitCode != .success)
        #expect(failure.retryAfter == nil || failure.status == 503)
    }

    @Test func theOpenAPIDocumentNamesEveryFailure() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.yaml").standardized.path
        let document = try #require(try Yams.load(yaml: String(contentsOfFile: path, encoding: .utf8)) as? [String: Any])
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let named = try #require((schemas?["Failure"] as? [String: Any])?["enum"] as? [String])
        #expect(named.sorted() == Failure.allCases.map(\.rawValue).sorted())
    }
}
