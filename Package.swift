// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Tamga",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tamga", targets: ["tamga"]),
        .library(name: "TamgaCore", targets: ["TamgaCore"]),
        .library(name: "TamgaLedger", targets: ["TamgaLedger"]),
        .library(name: "TamgaConsensus", targets: ["TamgaConsensus"]),
        .library(name: "TamgaSimulation", targets: ["TamgaSimulation"]),
        .library(name: "TamgaStorage", targets: ["TamgaStorage"]),
        .library(name: "TamgaNetwork", targets: ["TamgaNetwork"]),
        .library(name: "TamgaNode", targets: ["TamgaNode"]),
        .library(name: "TamgaIntegrations", targets: ["TamgaIntegrations"]),
        .library(name: "TamgaAPI", targets: ["TamgaAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(name: "CTamgaMemory"),
        .target(
            name: "TamgaCore",
            dependencies: ["CTamgaMemory", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaLedger",
            dependencies: ["TamgaCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaConsensus",
            dependencies: ["TamgaCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaSimulation",
            dependencies: ["TamgaCore", "TamgaConsensus", "TamgaLedger"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaStorage",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaNetwork",
            dependencies: [
                "TamgaCore", "TamgaConsensus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaNode",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus", "TamgaStorage", "TamgaNetwork",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaIntegrations",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus", "TamgaStorage", "TamgaNode",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TamgaAPI",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus", "TamgaStorage", "TamgaNode", "TamgaIntegrations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Portal")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tamga",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus", "TamgaSimulation", "TamgaStorage", "TamgaNetwork", "TamgaNode", "TamgaIntegrations", "TamgaAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TamgaCoreTests",
            dependencies: [
                "TamgaCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TamgaLedgerTests",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaSimulation",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TamgaConsensusTests",
            dependencies: ["TamgaCore", "TamgaConsensus", "TamgaSimulation"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TamgaNodeTests",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus", "TamgaStorage", "TamgaNetwork", "TamgaNode", "TamgaIntegrations", "TamgaAPI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "tamgaTests",
            dependencies: [
                "tamga", "TamgaCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
