import Foundation
import Testing

/// The local AWS stand-ins that `scripts/test.sh` starts: moto, a signature-checking moto, and the
/// federation-endpoint stand-in, with what `scripts/provision_standins.py` created in them.
public struct StandIns: Sendable {
    public var motoURL: String
    public var authMotoURL: String
    public var federationURL: String
    public var identityPoolId: String
    public var developerProvider: String
    public var roles: [String: String]
    public var signedBrokerKeyId: String
    public var signedBrokerSecret: String

    public static func load() throws -> StandIns {
        let environment = ProcessInfo.processInfo.environment
        guard let moto = environment["CONSOLEGATE_TEST_MOTO_URL"], let authMoto = environment["CONSOLEGATE_TEST_AUTH_MOTO_URL"],
              let federation = environment["CONSOLEGATE_TEST_FEDERATION_URL"], let fixtures = environment["CONSOLEGATE_TEST_FIXTURES"]
        else {
            throw StandInsMissing()
        }
        struct Fixtures: Decodable {
            struct Broker: Decodable {
                var access_key_id: String
                var secret_access_key: String
            }
            var identity_pool_id: String
            var developer_provider: String
            var roles: [String: String]
            var signed_broker: Broker
        }
        let parsed = try JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures)))
        return StandIns(motoURL: moto, authMotoURL: authMoto, federationURL: federation,
                        identityPoolId: parsed.identity_pool_id, developerProvider: parsed.developer_provider, roles: parsed.roles,
                        signedBrokerKeyId: parsed.signed_broker.access_key_id, signedBrokerSecret: parsed.signed_broker.secret_access_key)
    }

    public struct StandInsMissing: Error, CustomStringConvertible {
        public var description: String { "the AWS stand-ins are not running: run the tests through scripts/test.sh" }
    }

    /// Environment for a process (or the minter) that should reach moto as AWS with throwaway broker keys.
    public var brokerEnvironment: [String: String] {
        ["AWS_ENDPOINT_URL": motoURL, "AWS_ACCESS_KEY_ID": "AKIDBROKERTEST", "AWS_SECRET_ACCESS_KEY": "broker-secret", "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]
    }
}
