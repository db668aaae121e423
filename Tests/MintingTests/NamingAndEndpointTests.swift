import Foundation
import GatewayConfig
import Testing

@testable import Minting

@Suite struct SessionNameTests {
    static let allowed = #"^[\w+=,.@-]{2,64}$"#

    @Test(arguments: ["alice", "bob.smith", "j_doe@example.org", "svc+ops=1,2", "ab"])
    func ordinaryNamesPassUnchanged(name: String) {
        #expect(SessionName.encode(name) == name)
    }

    @Test(arguments: [#"DOMAIN\user"#, "Zoë", "ユーザー", "a", "", String(repeating: "x", count: 65), "white space", "a/b:c"])
    func otherNamesAreValidSessionNames(name: String) {
        let encoded = SessionName.encode(name)
        #expect(encoded.range(of: Self.allowed, options: .regularExpression) != nil, "\(encoded)")
        #expect(encoded != name)
    }

    @Test func readableWhereItCanBe() {
        #expect(SessionName.encode(#"DOMAIN\user"#).hasPrefix("DOMAIN-user-"))
        #expect(SessionName.encode("Zoë").hasPrefix("Zoe-"))
        #expect(SessionName.encode(String(repeating: "x", count: 65)).count == 64)
    }

    @Test func distinctNamesStayDistinct() {
        let names = [#"DOMAIN\user"#, "DOMAIN/user", "DOMAIN user", "domain\\user", String(repeating: "x", count: 65), String(repeating: "x", count: 66)]
        #expect(Set(names.map { SessionName.encode($0) }).count == names.count)
    }

    @Test func deterministic() {
        #expect(SessionName.encode(#"CORP\Zoë"#) == SessionName.encode(#"CORP\Zoë"#))
    }

    @Test func federatedUserNamesFitThirtyTwo() {
        let encoded = SessionName.encode(String(repeating: "n", count: 40), maxLength: SessionName.federatedUserLimit)
        #expect(encoded.count == 32)
        #expect(SessionName.encode("bob", maxLength: SessionName.federatedUserLimit) == "bob")
    }
}

@Suite struct ConsoleDestinationTests {
    @Test(arguments: [
        "https://us-east-1.console.aws.amazon.com.evil.com/",
        "https://evil.com/?https://console.aws.amazon.com/",
        "http://console.aws.amazon.com/",
        "https://user@console.aws.amazon.com/",
        "https://console.aws.amazon.com:8443/",
        "https://notconsole.aws.amazon.com/",
        "https://evil.com.console.aws.amazon.com/",
        "javascript:alert(1)",
    ])
    func refusesAnythingOffTheConsole(text: String) {
        #expect(throws: MintingError.self) {
            try ConsoleDestination.resolve(URL(string: text), region: nil, partition: .aws)
        }
    }

    @Test func acceptsConsolePages() throws {
        #expect(try ConsoleDestination.resolve(URL(string: "https://console.aws.amazon.com/ec2/home"), region: nil, partition: .aws).absoluteString == "https://console.aws.amazon.com/ec2/home")
        #expect(try ConsoleDestination.resolve(URL(string: "https://eu-west-1.console.aws.amazon.com/s3/"), region: nil, partition: .aws).host == "eu-west-1.console.aws.amazon.com")
        #expect(try ConsoleDestination.resolve(nil, region: nil, partition: .awsCN).absoluteString == "https://console.amazonaws.cn/")
    }

    @Test func regionBecomesTheRegionalConsole() throws {
        let url = try ConsoleDestination.resolve(URL(string: "https://console.aws.amazon.com/ec2/home?region=us-east-1#Instances"), region: "ap-southeast-2", partition: .aws)
        #expect(url.absoluteString == "https://ap-southeast-2.console.aws.amazon.com/ec2/home?region=ap-southeast-2#Instances")
        let gov = try ConsoleDestination.resolve(nil, region: "us-gov-east-1", partition: .awsUSGov)
        #expect(gov.absoluteString == "https://console.amazonaws-us-gov.com/?region=us-gov-east-1")
    }

    @Test func regionMustBelongToThePartition() {
        #expect(throws: MintingError.self) { try ConsoleDestination.resolve(nil, region: "cn-north-1", partition: .aws) }
        #expect(throws: MintingError.self) { try ConsoleDestination.resolve(nil, region: "not a region", partition: .aws) }
    }
}

@Suite struct EndpointTests {
    @Test func commercialDefaults() throws {
        let endpoints = try Endpoints(partition: .aws, region: "eu-central-1", environment: [:])
        #expect(endpoints.sts.absoluteString == "https://sts.eu-central-1.amazonaws.com")
        #expect(endpoints.cognitoIdentity.absoluteString == "https://cognito-identity.eu-central-1.amazonaws.com")
        #expect(endpoints.signin.absoluteString == "https://eu-central-1.signin.aws.amazon.com/federation")
        #expect(try Endpoints(partition: .aws, region: "us-east-1", environment: [:]).signin.absoluteString == "https://signin.aws.amazon.com/federation")
    }

    @Test func chinaAndGovCloud() throws {
        let china = try Endpoints(partition: .awsCN, region: "cn-north-1", environment: [:])
        #expect(china.sts.absoluteString == "https://sts.cn-north-1.amazonaws.com.cn")
        #expect(china.signin.absoluteString == "https://signin.amazonaws.cn/federation")
        let gov = try Endpoints(partition: .awsUSGov, region: "us-gov-west-1", environment: [:])
        #expect(gov.signin.absoluteString == "https://signin.amazonaws-us-gov.com/federation")
        #expect(gov.cognitoIdentity.absoluteString == "https://cognito-identity-fips.us-gov-west-1.amazonaws.com")
        #expect(try Endpoints(partition: .awsUSGov, region: "us-gov-east-1", environment: [:]).signin.absoluteString == "https://us-gov-east-1.signin.amazonaws-us-gov.com/federation")
        #expect(Partition.awsUSGov.consoleHost == "console.amazonaws-us-gov.com")
    }

    @Test func environmentOverridesServiceSpecificFirst() throws {
        let endpoints = try Endpoints(partition: .aws, region: "us-east-1", signinOverride: URL(string: "http://127.0.0.1:9/federation"), environment: [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:2",
        ])
        #expect(endpoints.sts.absoluteString == "http://127.0.0.1:2")
        #expect(endpoints.cognitoIdentity.absoluteString == "http://127.0.0.1:1")
        #expect(endpoints.signin.absoluteString == "http://127.0.0.1:9/federation")
        let cognito = try Endpoints(partition: .aws, region: "us-east-1", environment: ["AWS_ENDPOINT_URL_COGNITO_IDENTITY": "http://127.0.0.1:3"])
        #expect(cognito.cognitoIdentity.absoluteString == "http://127.0.0.1:3")
    }

    @Test func regionOutsideThePartitionIsRefused() {
        #expect(throws: MintingError.self) { try Endpoints(partition: .aws, region: "cn-north-1", environment: [:]) }
    }
}

@Suite struct ProxyRulesTests {
    @Test func noProxyExemptsHostsAndDomains() {
        let rules = ProxyRules(environment: ["https_proxy": "http://proxy.internal:3128", "no_proxy": "localhost,.internal.example,169.254.169.254"])
        #expect(rules.proxy?.host == "proxy.internal")
        #expect(rules.proxy?.port == 3128)
        #expect(rules.shouldProxy(URL(string: "https://sts.us-east-1.amazonaws.com")!))
        #expect(!rules.shouldProxy(URL(string: "http://localhost:8080/")!))
        #expect(!rules.shouldProxy(URL(string: "https://a.internal.example/")!))
        #expect(!rules.shouldProxy(URL(string: "http://169.254.169.254/latest")!))
    }

    @Test func withoutProxyNothingIsProxied() {
        #expect(!ProxyRules(environment: [:]).shouldProxy(URL(string: "https://sts.amazonaws.com")!))
        #expect(!ProxyRules(environment: ["HTTPS_PROXY": "proxy:8080", "NO_PROXY": "*"]).shouldProxy(URL(string: "https://sts.amazonaws.com")!))
    }
}
