// swift-tools-version:6.0
// recruit: find people who may be eligible for a research study in UK GP records.
import PackageDescription

/// Upcoming-feature and language settings shared by every target (as in
/// hummingbird and swift-log): Swift 6 language mode, strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "recruit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "recruit", targets: ["recruit"]),
        .library(name: "RecruitKit", targets: ["RecruitKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // libpq, from Debian's libpq-dev. Only the Postgres target imports it.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // A small, safe Swift layer over libpq: the only code that touches libpq pointers.
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ"],
            swiftSettings: swiftSettings
        ),
        // The domain: one folder per pipeline stage.
        .target(
            name: "RecruitKit",
            dependencies: [
                "Postgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command line: @main and subcommands only.
        .executableTarget(
            name: "recruit",
            dependencies: [
                "RecruitKit",
                "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: database connection from the
        // environment, throwaway schemas, fixtures.
        .target(
            name: "RecruitTestSupport",
            dependencies: ["RecruitKit", "Postgres"],
            path: "Tests/RecruitTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "RecruitTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RecruitKitTests",
            dependencies: ["RecruitKit", "RecruitTestSupport", .product(name: "Yams", package: "Yams")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["RecruitKit", "Postgres", "RecruitTestSupport", .product(name: "Yams", package: "Yams"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "InMemoryLogging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
    ]
)
