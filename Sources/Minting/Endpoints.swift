import Foundation
import GatewayConfig

/// Where each service lives for a partition and region, after the standard `AWS_ENDPOINT_URL*` overrides.
public struct Endpoints: Sendable, Equatable {
    public var sts: URL
    public var cognitoIdentity: URL
    public var signin: URL
    /// IAM is global per partition: one endpoint, signed for the partition's home region.
    public var iam: URL
    public var partition: Partition
    public var region: String

    public init(partition: Partition, region: String, signinOverride: URL? = nil, environment: [String: String]) throws {
        guard Partition.of(region: region) == partition else {
            throw MintingError.invalidRequest("region \(region) is not in partition \(partition.rawValue); it belongs to \(Partition.of(region: region).rawValue)")
        }
        self.partition = partition
        self.region = region
        func override(_ name: String) throws -> URL? {
            guard let raw = environment.nonEmpty(name) else { return nil }
            guard let url = URL(string: raw), url.scheme != nil, url.host != nil else {
                throw MintingError.invalidRequest("\(name)=\(raw) is not an absolute URL")
            }
            return url
        }
        let shared = try override("AWS_ENDPOINT_URL")
        sts = try override("AWS_ENDPOINT_URL_STS") ?? shared ?? partition.stsEndpoint(region: region)
        cognitoIdentity = try override("AWS_ENDPOINT_URL_COGNITO_IDENTITY") ?? shared ?? partition.cognitoIdentityEndpoint(region: region)
        signin = signinOverride ?? partition.signinEndpoint(region: region)
        iam = try override("AWS_ENDPOINT_URL_IAM") ?? shared ?? partition.iamEndpoint
    }
}

extension Partition {
    public static func of(region: String) -> Partition {
        Region(region)?.partition ?? .aws
    }

    var dnsSuffix: String {
        switch self {
        case .aws, .awsUSGov: return "amazonaws.com"
        case .awsCN: return "amazonaws.com.cn"
        }
    }

    /// Regional STS endpoints: their own throttling limits, and no dependency on us-east-1.
    public func stsEndpoint(region: String) -> URL {
        URL(string: "https://sts.\(region).\(dnsSuffix)")!
    }

    public func cognitoIdentityEndpoint(region: String) -> URL {
        // GovCloud serves Cognito Identity on FIPS endpoints only.
        let host = self == .awsUSGov ? "cognito-identity-fips" : "cognito-identity"
        return URL(string: "https://\(host).\(region).\(dnsSuffix)")!
    }

    public func signinEndpoint(region: String) -> URL {
        let host: String
        switch self {
        case .aws: host = region == "us-east-1" ? "signin.aws.amazon.com" : "\(region).signin.aws.amazon.com"
        case .awsCN: host = "signin.amazonaws.cn"
        case .awsUSGov: host = region == "us-gov-west-1" ? "signin.amazonaws-us-gov.com" : "\(region).signin.amazonaws-us-gov.com"
        }
        return URL(string: "https://\(host)/federation")!
    }

    /// The console's own host; Destination must be on it (or, in the aws partition, a regional variant of it).
    public var consoleHost: String {
        switch self {
        case .aws: return "console.aws.amazon.com"
        case .awsCN: return "console.amazonaws.cn"
        case .awsUSGov: return "console.amazonaws-us-gov.com"
        }
    }

    public var defaultConsoleURL: URL { URL(string: "https://\(consoleHost)/")! }

    public var iamEndpoint: URL {
        switch self {
        case .aws: return URL(string: "https://iam.amazonaws.com")!
        case .awsCN: return URL(string: "https://iam.cn-north-1.amazonaws.com.cn")!
        case .awsUSGov: return URL(string: "https://iam.us-gov.amazonaws.com")!
        }
    }

    /// The region IAM requests are signed for.
    public var iamSigningRegion: String {
        switch self {
        case .aws: return "us-east-1"
        case .awsCN: return "cn-north-1"
        case .awsUSGov: return "us-gov-west-1"
        }
    }
}
