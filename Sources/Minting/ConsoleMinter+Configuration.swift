import Foundation
import GatewayConfig

/// How the gateway reaches AWS for a configuration: the endpoints, the transport and retries, and the
/// broker's credentials, found as the SDKs find them and cached. One per process, shared by whatever calls AWS.
public struct Broker: Sendable {
    public let endpoints: Endpoints
    public let credentials: CachingCredentialProvider
    public let transport: any HTTPTransport
    public let retry: RetryPolicy
    public let timeout: Duration

    public init(configuration aws: AWSSettings, environment: [String: String], transport: any HTTPTransport, retry: RetryPolicy = RetryPolicy()) throws {
        endpoints = try Endpoints(partition: aws.partition, region: aws.region, signinOverride: aws.signinEndpoint, environment: environment)
        timeout = aws.requestTimeout
        credentials = CachingCredentialProvider(source: CredentialChain.standard(environment: environment, region: aws.region, endpoints: endpoints,
                                                                                 transport: transport, retry: retry, timeout: timeout))
        self.transport = transport
        self.retry = retry
    }
}

extension ConsoleMinter {
    /// Wires the clients, the broker credential chain and the strategy the configuration asks for.
    public init(configuration aws: AWSSettings, environment: [String: String], transport: any HTTPTransport, retry: RetryPolicy = RetryPolicy()) throws {
        try self.init(configuration: aws, broker: Broker(configuration: aws, environment: environment, transport: transport, retry: retry))
    }

    public init(configuration aws: AWSSettings, broker access: Broker) throws {
        let (endpoints, transport, retry, timeout, broker) = (access.endpoints, access.transport, access.retry, access.timeout, access.credentials)
        let sts = STSClient(endpoint: endpoints.sts, region: aws.region, transport: transport, retry: retry, timeout: timeout, credentials: broker)
        let strategy: any MintingStrategy
        switch aws.strategy {
        case .cognitoDeveloper, .cognitoUnauthenticated:
            guard let settings = aws.cognito else {
                throw MintingError.invalidRequest("aws.cognito is required for strategy \(aws.strategy.rawValue)")
            }
            let cognito = CognitoIdentityClient(endpoint: endpoints.cognitoIdentity, region: aws.region, transport: transport, retry: retry, timeout: timeout, credentials: broker)
            strategy = CognitoStrategy(cognito: cognito, sts: sts, settings: settings, flow: aws.strategy == .cognitoDeveloper ? .developer : .unauthenticated)
        case .assumeRole:
            strategy = AssumeRoleStrategy(sts: sts, brokerCredentials: broker, tags: aws.sessionTags)
        case .federationToken:
            strategy = FederationTokenStrategy(sts: sts, policy: aws.federationPolicy)
        }
        let federation = FederationClient(endpoint: endpoints.signin, transport: transport, retry: retry, timeout: timeout)
        self.init(settings: aws, strategy: strategy, federation: federation)
    }
}

extension CredentialChain {
    /// The AWS SDK order: environment, shared profile files, web identity, container, EC2 instance metadata.
    public static func standard(environment: [String: String], region: String, endpoints: Endpoints, transport: any HTTPTransport, retry: RetryPolicy, timeout: Duration) -> CredentialChain {
        // Web identity exchanges its token with STS unsigned, so its client needs no credentials.
        let unsignedSTS = STSClient(endpoint: endpoints.sts, region: region, transport: transport, retry: retry, timeout: timeout, credentials: nil)
        return CredentialChain([
            EnvironmentCredentialSource(environment: environment),
            ProfileCredentialSource(environment: environment),
            WebIdentityCredentialSource(environment: environment, sts: unsignedSTS),
            ContainerCredentialSource(environment: environment, transport: transport),
            InstanceMetadataCredentialSource(environment: environment, transport: transport),
        ])
    }
}
