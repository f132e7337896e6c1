// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "claude-auth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "claude-authd", targets: ["claude-authd"]),
        .executable(name: "claude-auth", targets: ["claude-auth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    ],
    targets: [
        // libsystemd, seen only by SystemdSupport.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // prctl(2) is variadic and does not import into Swift.
        .target(name: "CProcessControl"),
        // NETLINK_SOCK_DIAG: who owns the other end of a loopback TCP connection.
        .target(name: "CSocketDiagnostics"),
        .target(
            name: "SystemdSupport",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The wire contract shared by the daemon and the client: Foundation essentials only.
        .target(name: "ClaudeAuthAPI"),
        // Profiles, configuration, secrets and storage: no sockets, no systemd.
        .target(
            name: "ClaudeAuthCore",
            dependencies: [
                "ClaudeAuthAPI",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "ClaudeAuthDaemon",
            dependencies: [
                "ClaudeAuthAPI",
                "ClaudeAuthCore",
                "CProcessControl",
                "CSocketDiagnostics",
                "SystemdSupport",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The client's library: it must stay free of NIO, async-http-client and libsystemd.
        .target(name: "ClaudeAuthClient", dependencies: ["ClaudeAuthAPI"]),
        .executableTarget(
            name: "claude-authd",
            dependencies: [
                "ClaudeAuthCore",
                "ClaudeAuthDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "claude-auth",
            dependencies: [
                "ClaudeAuthClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // `make bench`'s load generator: keep-alive HTTP over a Unix socket, one thread on epoll.
        .systemLibrary(name: "CEpoll", path: "Benchmarks/CEpoll"),
        .executableTarget(name: "claude-auth-load", dependencies: ["CEpoll"], path: "Benchmarks/LoadGenerator"),
        .testTarget(name: "ClaudeAuthCoreTests", dependencies: ["ClaudeAuthCore"]),
        .testTarget(name: "ClaudeAuthClientTests", dependencies: ["ClaudeAuthClient"]),
        .testTarget(
            name: "ClaudeAuthDaemonTests",
            dependencies: [
                "ClaudeAuthDaemon",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // Test support in C: the GNU spawn and pipe calls the harness needs.
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ClaudeAuthAPI", "ClaudeAuthCore", "ClaudeAuthDaemon", "CTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ]
)

// Each module sees the members of only the modules it imports itself: a dependency that imports full Foundation
// cannot make our calls resolve to it, which would link Foundation and ICU's 34 MB data table into the binaries.
for target in package.targets
where ["SystemdSupport", "ClaudeAuthAPI", "ClaudeAuthCore", "ClaudeAuthDaemon", "ClaudeAuthClient", "claude-authd", "claude-auth"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}

// `make fuzz` (CLAUDE_AUTH_FUZZ=1): one libFuzzer target per parser that untrusted bytes reach, built with
// `--sanitize=fuzzer --sanitize=address` in a scratch folder of their own.
if Context.environment["CLAUDE_AUTH_FUZZ"] != nil {
    for name in ["FuzzConfiguration", "FuzzTokenResponse", "FuzzPastedCode", "FuzzStoredCredential", "FuzzIssuerAnswers"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["ClaudeAuthCore"], path: "Fuzz/Targets/\(name)"))
    }
    package.targets.append(.executableTarget(name: "FuzzHelperInput", dependencies: ["ClaudeAuthClient"], path: "Fuzz/Targets/FuzzHelperInput"))
    package.targets.append(
        .executableTarget(
            name: "FuzzSocketRequest",
            dependencies: [
                "ClaudeAuthDaemon", "ClaudeAuthCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Fuzz/Targets/FuzzSocketRequest"))
}
