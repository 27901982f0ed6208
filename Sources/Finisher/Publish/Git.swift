import Foundation

/// Runs `git` with a clean, explicit configuration: no user or system config, no prompts, and
/// any credential passed through the environment (never argv or a file).
struct Git: Sendable {
    let directory: URL?
    var environment: [String: String] = [:]
    let authorName: String
    let authorEmail: String

    /// The git executable: `LLM_DEPLOY_GIT`, or /usr/bin/git.
    static let executable = ProcessInfo.processInfo.environment["LLM_DEPLOY_GIT"] ?? "/usr/bin/git"

    struct Failure: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var output: String
        var description: String { "git \(arguments.first ?? "") exited \(status): \(output.suffix(600))" }
    }

    @discardableResult
    func run(_ arguments: [String], input: Data? = nil) async throws(Failure) -> String {
        let result = await Self.execute(arguments, directory: directory, environment: baseEnvironment.merging(environment) { _, new in new }, input: input)
        guard result.status == 0 else { throw Failure(arguments: arguments, status: result.status, output: result.output) }
        return result.output
    }

    private var baseEnvironment: [String: String] {
        [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": authorName, "GIT_AUTHOR_EMAIL": authorEmail,
            "GIT_COMMITTER_NAME": authorName, "GIT_COMMITTER_EMAIL": authorEmail,
            "LC_ALL": "C",
            // A stalled transfer (under 1 KB/s for 30 s) fails instead of holding the slot forever.
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "30",
        ]
    }

    private static func execute(_ arguments: [String], directory: URL?, environment: [String: String], input: Data?) async -> (status: Int32, output: String) {
        await withCheckedContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.executable)
            process.arguments = arguments
            process.environment = environment
            if let directory { process.currentDirectoryURL = directory }
            let output = Pipe()
            let stdin = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = input == nil ? FileHandle.nullDevice : stdin
            do {
                try process.run()
            } catch {
                continuation.resume(returning: (127, "cannot run git: \(error)"))
                return
            }
            if let input {
                DispatchQueue.global().async {
                    stdin.fileHandleForWriting.write(input)
                    try? stdin.fileHandleForWriting.close()
                }
            }
            DispatchQueue.global().async {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
