import Foundation
import Testing

@testable import AWSSigV4

/// The examples from the AWS Signature Version 4 documentation and test suite.
@Suite struct SigV4SignerTests {
    static let credentials = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let exampleDate = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

    @Test func timestampFormat() {
        #expect(SigV4Signer.timestamp(Self.exampleDate) == "20150830T123600Z")
    }

    @Test func derivedSigningKeyMatchesDocumentation() {
        let key = SigningKeyCache.deriveKey(secret: Self.credentials.secretAccessKey, day: "20150830", region: "us-east-1", service: "iam")
        #expect(key.withUnsafeBytes { $0.hexString } == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func iamListUsersExample() throws {
        let signer = SigV4Signer(region: "us-east-1", service: "iam", keyCache: SigningKeyCache())
        let request = SigningRequest(
            method: "GET",
            url: URL(string: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08")!,
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
        )
        let headers = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate)
        let authorization = try #require(headers.first { $0.name == "Authorization" }?.value)
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    @Test func testSuiteGetVanilla() {
        let signer = SigV4Signer(region: "us-east-1", service: "service", keyCache: SigningKeyCache())
        let request = SigningRequest(method: "GET", url: URL(string: "https://example.amazonaws.com/")!)
        let headers = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate)
        #expect(headers.last?.value == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func testSuiteQueryOrderKeyCase() {
        let signer = SigV4Signer(region: "us-east-1", service: "service", keyCache: SigningKeyCache())
        let request = SigningRequest(method: "GET", url: URL(string: "https://example.amazonaws.com/?Param2=value2&Param1=value1")!)
        let headers = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate)
        #expect(headers.last?.value == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test func sessionTokenIsSentAndSigned() throws {
        let signer = SigV4Signer(region: "eu-west-1", service: "sts", keyCache: SigningKeyCache())
        var credentials = Self.credentials
        credentials.sessionToken = "session-token-value"
        let request = SigningRequest(method: "POST", url: URL(string: "https://sts.eu-west-1.amazonaws.com/")!, body: Array("Action=GetCallerIdentity".utf8))
        let headers = signer.signingHeaders(for: request, credentials: credentials, date: Self.exampleDate)
        #expect(headers.contains { $0.name == "X-Amz-Security-Token" && $0.value == "session-token-value" })
        let authorization = try #require(headers.last?.value)
        #expect(authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"))
        #expect(!authorization.contains("session-token-value"))
    }

    @Test func hostHeaderKeepsNonDefaultPort() {
        #expect(SigningRequest(method: "GET", url: URL(string: "http://127.0.0.1:5000/")!).hostHeader == "127.0.0.1:5000")
        #expect(SigningRequest(method: "GET", url: URL(string: "https://sts.amazonaws.com:443/")!).hostHeader == "sts.amazonaws.com")
    }

    @Test func signingKeysAreCachedPerDayRegionAndService() {
        let cache = SigningKeyCache()
        let signer = SigV4Signer(region: "us-east-1", service: "sts", keyCache: cache)
        let request = SigningRequest(method: "GET", url: URL(string: "https://sts.amazonaws.com/")!)
        let first = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate)
        let second = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate.addingTimeInterval(60))
        #expect(cache.count == 1)
        #expect(first.last?.value != second.last?.value)
        _ = SigV4Signer(region: "us-west-2", service: "sts", keyCache: cache).signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate)
        _ = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate.addingTimeInterval(86400))
        #expect(cache.count == 3)
    }

    @Test func rotatedSecretIsNotServedFromTheCache() {
        let cache = SigningKeyCache()
        let signer = SigV4Signer(region: "us-east-1", service: "sts", keyCache: cache)
        let request = SigningRequest(method: "GET", url: URL(string: "https://sts.amazonaws.com/")!)
        var rotated = Self.credentials
        rotated.secretAccessKey = "another-secret"
        let before = signer.signingHeaders(for: request, credentials: Self.credentials, date: Self.exampleDate)
        let after = signer.signingHeaders(for: request, credentials: rotated, date: Self.exampleDate)
        #expect(before.last?.value != after.last?.value)
    }

    @Test func credentialsDescriptionHidesSecrets() {
        let credentials = AWSCredentials(accessKeyId: "ASIAEXAMPLE", secretAccessKey: "very-secret", sessionToken: "token-secret")
        #expect(!"\(credentials)".contains("very-secret"))
        #expect(!"\(credentials)".contains("token-secret"))
    }
}
