import AWSSigV4
import Foundation
import TestSupport
import Testing

@testable import Minting

/// Our SigV4 against moto with signature checking on: accepted with the right secret, refused with a wrong one.
@Suite struct MotoSignatureTests {
    let standIns: StandIns
    init() throws { standIns = try StandIns.load() }

    func sts(secret: String, sessionToken: String? = nil) -> STSClient {
        let credentials = AWSCredentials(accessKeyId: standIns.signedBrokerKeyId, secretAccessKey: secret, sessionToken: sessionToken)
        return STSClient(endpoint: URL(string: standIns.authMotoURL)!, region: "us-east-1", transport: AsyncHTTPTransport(environment: [:]),
                         retry: RetryPolicy(jitter: { 0 }), timeout: .seconds(10), credentials: StaticCredentialProvider(credentials))
    }

    @Test func motoAcceptsOurSignature() async throws {
        let arn = try await sts(secret: standIns.signedBrokerSecret).getCallerIdentity().arn
        #expect(arn == "arn:aws:iam::123456789012:user/broker")
    }

    @Test func motoRefusesAWrongSecret() async throws {
        await #expect(throws: MintingError.awsRefused(operation: "GetCallerIdentity", code: "SignatureDoesNotMatch",
                                                      message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")) {
            _ = try await sts(secret: standIns.signedBrokerSecret + "x").getCallerIdentity()
        }
    }

    @Test func signedPostWithParametersIsAccepted() async throws {
        let session = try await sts(secret: standIns.signedBrokerSecret).getFederationToken(name: "signed-check", policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}"#, durationSeconds: 900)
        #expect(session.credentials.isTemporary)
    }
}
