import Foundation

/// nginx (rendered from deploy/nginx.conf by scripts/nginx-conf) and the Handler, started for
/// real in a temporary state directory, as `scripts/up` does.
final class LocalStack: @unchecked Sendable {
    let home: String
    let port: Int
    let secret = "test-secret-\(UUID().uuidString)"
    var environment: [String: String]
    private(set) var handler: ChildProcess?
    private(set) var nginx: ChildProcess?

    var spool: String { "\(home)/spool" }
    var socketPath: String { "\(home)/run/handler.sock" }

    init(environment extra: [String: String] = [:]) throws {
        home = Paths.temporaryDirectory("stack")
        port = HTTPClient.freePort()
        for directory in ["run", "log", "nginx", "spool"] {
            try FileManager.default.createDirectory(atPath: "\(home)/\(directory)", withIntermediateDirectories: true)
        }
        environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "LLM_DEPLOY_HOME": home,
            "LLM_DEPLOY_SECRET": secret,
            "LLM_DEPLOY_WAKE": "none",
        ].merging(extra) { _, new in new }
    }

    /// Renders and starts nginx, then the Handler; waits until both answer.
    func start() throws {
        let render = Process()
        render.executableURL = URL(fileURLWithPath: "\(Paths.packageRoot)/scripts/nginx-conf")
        render.arguments = [home, String(port)]
        let output = Pipe()
        render.standardOutput = output
        try render.run()
        let config = output.fileHandleForReading.readDataToEndOfFile()
        render.waitUntilExit()
        guard render.terminationStatus == 0 else { throw HTTPClient.Failure(description: "scripts/nginx-conf failed") }
        try config.write(to: URL(fileURLWithPath: "\(home)/nginx.conf"))
        guard let nginxPath = Paths.which("nginx") else { throw HTTPClient.Failure(description: "nginx is not installed") }
        nginx = try ChildProcess(nginxPath, ["-p", home, "-c", "\(home)/nginx.conf", "-e", "stderr", "-g", "daemon off;"],
                                 environment: environment, logPath: "\(home)/log/nginx.out")
        try startHandler()
        guard eventually({ HTTPClient.isListening(port: self.port) }) else {
            throw HTTPClient.Failure(description: "nginx did not start: \(nginx!.log)")
        }
    }

    func startHandler() throws {
        // A killed Handler leaves its socket file behind; wait for the new one, not the old.
        unlink(socketPath)
        handler = try ChildProcess(Paths.product("llm-deploy-handler"), ["--socket", socketPath],
                                   environment: environment, logPath: "\(home)/log/handler.log")
        guard eventually({ FileManager.default.fileExists(atPath: self.socketPath) && self.handler!.process.isRunning }) else {
            throw HTTPClient.Failure(description: "the Handler did not start: \(handler!.log)")
        }
    }

    func stop() {
        handler?.stop()
        nginx?.stop(signal: SIGQUIT)
    }

    /// A valid request body for this stack; `changes` replace or (with `nil`) remove fields.
    func request(_ changes: [String: Any?] = [:]) -> [String: Any] {
        var object: [String: Any] = [
            "email": "student@example.com", "secret": secret, "task": "captcha-solver-3f2a1", "round": 1,
            "nonce": UUID().uuidString, "brief": "Create a page that shows the sum of the CSV's numbers.",
            "checks": ["document.querySelector('#total') !== null"],
            "evaluation_url": "http://127.0.0.1:9/notify",
            "attachments": [["name": "data.csv", "url": "data:text/csv;base64,YSxiCjEsMgo="]],
        ]
        for (key, value) in changes {
            if let value { object[key] = value } else { object.removeValue(forKey: key) }
        }
        return object
    }

    /// Every file in the spool's queues and tmp/.
    func spooledFiles() -> [String] {
        ["tmp", "incoming", "active", "deferred", "done", "failed"].flatMap { queue in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(queue)")) ?? []).map { "\(queue)/\($0)" }
        }
    }
}

/// Starts a stack, runs `body`, and stops the stack whatever happens.
func withStack<T>(environment: [String: String] = [:], _ body: (LocalStack) throws -> T) throws -> T {
    let stack = try LocalStack(environment: environment)
    defer { stack.stop() }
    try stack.start()
    return try body(stack)
}
