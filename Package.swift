// swift-tools-version: 6.0
//
// eventfilter: an eZ-Publish-style notification filter with digest delivery.
// No Swift package dependencies: the toolchain plus the system's SQLite, libpq, libcurl and libcrypto
// (libpq, libcurl and libcrypto opened on first use rather than linked: see Sources/CPostgreSQL,
// Sources/CCurl and Sources/CCrypto).
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
        // libpq, PostgreSQL's client library (the second store backend), opened on first use
        // (PostgresLoader.c), so that a run on SQLite does not load it. Its header: libpq-dev.
        .target(name: "CPostgreSQL", path: "Sources/CPostgreSQL"),
        // libcrypto (OpenSSL 3) opened on first use (CryptoLoader.c), so that a process that signs
        // and hashes nothing (a cron `run` with nothing to do) does not load it. Its headers: libssl-dev.
        .target(name: "CCrypto", path: "Sources/CCrypto"),
        // Typed wrappers over libcurl's variadic setopt/getinfo, which Swift cannot call, and
        // libcurl itself opened on first use (CurlLoader.c), so that only SMTP delivery loads it.
        .target(name: "CCurl", path: "Sources/CCurl"),
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
