// swift-tools-version: 6.0
//
// llm-deploy: a FastCGI Handler that spools task briefs durably and a Finisher that
// builds, publishes and reports them. See README.md and shared DESIGN.md §2 for the targets.
//
// Dependencies are kept to three small packages on purpose (CI builds from a clean clone on
// two cores): swift-argument-parser for the command lines, swift-log for structured logs, and
// ZIPFoundation for reading .xlsx attachments (the Spreadsheet target only).
import PackageDescription

let package = Package(
    name: "llm-deploy",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "llm-deploy-handler", targets: ["Handler"]),
        .executable(name: "llm-deploy-finisher", targets: ["Finisher"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The Finisher reads .xlsx attachments (ZIP archives of XML) to give the model their
        // first sheet as CSV (issue 6); Foundation has no ZIP reader on Linux. Finisher only.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        // libfcgi from Debian's libfcgi-dev; the C API and nothing else.
        .systemLibrary(
            name: "CFastCGI",
            pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]
        ),
        // The task model, validation, spool layout and durable writes. Foundation only.
        .target(name: "Spool"),
        // Outbound HTTP with limits: the guarded fetch (SSRF address guard, operator allowlist,
        // byte and time limits, vetted redirects) and the plain client for notifications and
        // Pages checks. Foundation only.
        .target(name: "Fetch", dependencies: ["Spool"]),
        // The brief's checks run against the built tree before it is published: nginx serves it
        // on loopback as GitHub Pages would, Debian's chromedriver drives a headless Chromium
        // over W3C WebDriver (a small loopback client: URLSession rejects chromedriver's header
        // lines). Spool for CheckResult, which the journal records; no new package.
        .target(name: "SiteCheck", dependencies: ["Spool"]),
        // .xlsx workbooks read as CSV. The only user of ZIPFoundation, so its build cost stays here.
        .target(
            name: "Spreadsheet",
            dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        // One JSON object per log line on stderr, for both executables.
        .target(
            name: "ServiceLog",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "Handler",
            dependencies: [
                "CFastCGI", "Spool", "ServiceLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "Finisher",
            dependencies: [
                "Spool", "ServiceLog", "Fetch", "Spreadsheet", "SiteCheck",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Real processes and loopback peers for the tests: nginx, the Handler, Tests/Peers/*.py.
        .target(name: "TestSupport", dependencies: ["Spool"], path: "Tests/TestSupport"),
        .testTarget(name: "SpoolTests", dependencies: ["Spool"]),
        .testTarget(name: "HandlerTests", dependencies: ["Handler", "Spool", "ServiceLog"]),
        .testTarget(name: "FinisherTests", dependencies: ["Finisher", "Spool", "Fetch", "Spreadsheet", "TestSupport"]),
        .testTarget(name: "SiteCheckTests", dependencies: ["SiteCheck", "Spool", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["Spool", "TestSupport"]),
    ]
)
