import Foundation

/// A process a test starts and must stop: output goes to a log file the test can read.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let logPath: String

    /// - Parameter input: the child's standard input (fd 0); /dev/null when `nil`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String], logPath: String, input: FileHandle? = nil) throws {
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits for the exit; SIGKILL after 5 s. (Children started from the
    /// test runner's threads may inherit a mask that blocks SIGTERM.)
    public func stop(signal: Int32 = SIGTERM) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        if waitForExit(timeout: 5) == nil { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Waits for the process to exit by itself, up to `timeout`; returns its status or `nil`.
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }
}

/// Runs a command to completion and returns its standard output and error, merged.
/// - Throws: when it exits non-zero, with what it printed.
public func commandOutput(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw HTTPClient.Failure(description: "\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")): \(text)")
    }
    return text
}

/// Paths of this package and its built products.
public enum Paths {
    /// The package root, from this file's location.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Where `swift build` put the executables: beside the test bundle.
    public static let products: String = {
        if let override = ProcessInfo.processInfo.environment["LLM_DEPLOY_BIN_DIR"] { return override }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // On Linux the runner is `<products>/<Package>PackageTests.xctest`.
        if url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func product(_ name: String) -> String { "\(products)/\(name)" }

    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `TMPDIR` (scripts/test points it at one directory per run, removed when the run passes),
    /// or /tmp. Kept short: the stacks' Unix socket paths live under it (at most 107 bytes).
    public static let temporaryRoot: String = {
        var configured = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        while configured.hasSuffix("/") { configured.removeLast() }
        return configured.isEmpty ? "/tmp" : configured
    }()

    public static func temporaryDirectory(_ label: String) -> String {
        let path = "\(temporaryRoot)/llm-deploy-\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
public func eventually(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Runs `body` on `count` threads at once and returns their results in order.
public func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    let group = DispatchGroup()
    nonisolated(unsafe) let slots = results
    for index in 0..<count {
        group.enter()
        Thread {
            slots[index] = body(index)
            group.leave()
        }.start()
    }
    group.wait()
    return results.map { $0! }
}
