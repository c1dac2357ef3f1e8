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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        .target(
            name: "TamgaCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
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
            dependencies: ["TamgaCore", "TamgaConsensus"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tamga",
            dependencies: [
                "TamgaCore", "TamgaLedger", "TamgaConsensus", "TamgaSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
                "TamgaCore", "TamgaLedger",
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
            name: "tamgaTests",
            dependencies: [
                "tamga", "TamgaCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
