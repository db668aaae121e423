// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ConsoleGate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "consolegate", targets: ["consolegate"]),
        .executable(name: "consolegate-pam", targets: ["consolegate-pam"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        // 2.101.2: the first release known here with the custom ByteBuffer allocator (ByteBufferAllocator.wiping).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        // libcrypto (OpenSSL) for SHA-256; only AWSSigV4 imports it, and links its archive (libssl-dev's
        // libcrypto.a): that puts libcrypto's SHA-256, a few kilobytes, in the binary, where the shared library
        // would cost every start 1.5 MiB of resident memory for its loading alone (scripts/bench.sh).
        .systemLibrary(name: "CLibCrypto"),
        // Secret bytes that wipe themselves, and the one wipe function: Glibc only, so the monitor can use it.
        .target(name: "Secrets"),
        .target(name: "AWSSigV4", dependencies: ["CLibCrypto", "Secrets"], linkerSettings: [.linkedLibrary(":libcrypto.a")]),
        // libpam; only the monitor (consolegate-pam) imports it.
        .systemLibrary(
            name: "CPAM",
            pkgConfig: "pam",
            providers: [.apt(["libpam0g-dev"])]
        ),
        .target(name: "CProcessSupport"),
        // The frames between the daemon and the PAM monitor's workers: Glibc only, no Foundation.
        .target(name: "PAMProtocol"),
        // The root PAM monitor: Glibc, libpam, PAMProtocol and Secrets only; no Foundation, no NIO, no threads.
        .executableTarget(name: "consolegate-pam", dependencies: ["CPAM", "CProcessSupport", "PAMProtocol", "Secrets"]),
        .target(name: "PAMAuth", dependencies: ["CProcessSupport", "PAMProtocol", "Secrets"]),
        .target(
            name: "GatewayConfig",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(name: "Authorization", dependencies: ["GatewayConfig"]),
        // The contract between the gateway and its clients: the answers' Codable types and the one table of
        // failures (status, exit code). FoundationEssentials only.
        .target(name: "GatewayAPI"),
        // What replicas share and what the auditor reads: the lockout, pending role choices, used one-time codes
        // and the audit trail, in memory and a file, or in PostgreSQL.
        .target(
            name: "GatewayStore",
            dependencies: [
                "CProcessSupport",
                "GatewayConfig",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Minting",
            dependencies: [
                "AWSSigV4",
                "GatewayConfig",
                "Secrets",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "AWSSigV4",
                "Authorization",
                "CProcessSupport",
                "GatewayAPI",
                "GatewayConfig",
                "GatewayStore",
                "Minting",
                "Revocation",
                "PAMAuth",
                "Secrets",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "consolegate",
            dependencies: [
                "Authorization",
                "Gateway",
                "GatewayAPI",
                "GatewayStore",
                "Minting",
                "PAMAuth",
                "GatewayConfig",
                "Revocation",
                "Secrets",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Ends people's sessions on managed roles: the ConsoleGateRevocations policy and IAM.
        .target(name: "Revocation", dependencies: ["Minting", "GatewayStore"]),
        // Shared by the test targets: the stand-ins' coordinates, the built binary, a scripted HTTP server.
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        // botocore_sign.py is the reference signer the tests run, not a resource.
        .testTarget(name: "AWSSigV4Tests", dependencies: ["AWSSigV4", "TestSupport"], exclude: ["botocore_sign.py"]),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig"]),
        .testTarget(name: "PAMAuthTests", dependencies: ["PAMAuth", "TestSupport"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway",
                "GatewayAPI",
                "GatewayConfig",
                "GatewayStore",
                "Minting",
                "PAMAuth",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "GatewayStoreTests",
            dependencies: ["GatewayStore", "GatewayConfig", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(name: "AuthorizationTests", dependencies: ["Authorization", "GatewayConfig"]),
        .testTarget(name: "MintingTests", dependencies: ["Minting", "AWSSigV4", "GatewayConfig", "TestSupport"]),
        .testTarget(name: "RevocationTests", dependencies: ["Revocation", "Minting", "TestSupport"]),
    ]
)
