// swift-tools-version: 6.0
//
// eventfilter: an eZ-Publish-style notification filter with digest delivery.
// No Swift package dependencies: the toolchain plus the system's SQLite, libpq, libcurl and libcrypto.
import PackageDescription

let package = Package(
    name: "eventfilter",
    products: [
        .executable(name: "eventfilter", targets: ["eventfilter"]),
        .library(name: "EventFilterKit", targets: ["EventFilterKit"]),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite",
            pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // libpq, PostgreSQL's client library (the second store backend).
        .systemLibrary(
            name: "CPostgreSQL", path: "Sources/CPostgreSQL",
            pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CCrypto", path: "Sources/CCrypto",
            pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Typed wrappers over libcurl's variadic setopt/getinfo, which Swift cannot call.
        .target(
            name: "CCurl", path: "Sources/CCurl",
            linkerSettings: [.linkedLibrary("curl")]),
        // Linux calls Swift's Glibc module leaves out (syncfs).
        .target(name: "CPosix", path: "Sources/CPosix"),
        .target(
            name: "EventFilterKit",
            dependencies: ["CSQLite", "CPostgreSQL", "CCurl", "CCrypto", "CPosix"],
            path: "Sources/EventFilterKit"),
        .executableTarget(
            name: "eventfilter",
            dependencies: ["EventFilterKit"],
            path: "Sources/eventfilter"),
        .testTarget(
            name: "EventFilterKitTests",
            dependencies: ["EventFilterKit"],
            path: "Tests/EventFilterKitTests"),
    ]
)
