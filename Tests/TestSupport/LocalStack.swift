import Foundation

/// nginx (rendered from deploy/nginx.conf by scripts/nginx-conf) and the Handler, started for
/// real in a temporary state directory, as `scripts/up` does.
public final class LocalStack: @unchecked Sendable {
    public let home: String
    public let port: Int
    public let secret = "test-secret-\(UUID().uuidString)"
    public var environment: [String: String]
    public private(set) var handler: ChildProcess?
    public private(set) var nginx: ChildProcess?
    public private(set) var fcgiwrap: ChildProcess?

    public var spool: String { "\(home)/spool" }
    public var socketPath: String { "\(home)/run/handler.sock" }

    public init(environment extra: [String: String] = [:]) throws {
        home = Paths.temporaryDirectory("stack")
        port = HTTPClient.freePort()
        for directory in ["run", "log", "nginx", "spool", "data/git", "data/pages"] {
            try FileManager.default.createDirectory(atPath: "\(home)/\(directory)", withIntermediateDirectories: true)
        }
        environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "LLM_DEPLOY_HOME": home,
            "LLM_DEPLOY_SECRET": secret,
            "LLM_DEPLOY_WAKE": "none",
            "LLM_DEPLOY_PUBLIC_URL": "http://127.0.0.1:\(port)",
            // The tests' evaluators listen on loopback, which notifications otherwise never reach.
            "LLM_DEPLOY_NOTIFY_ALLOW": "127.0.0.1",
        ].merging(extra) { _, new in new }
    }

    /// Renders and starts nginx, then the Handler; waits until both answer.
    public func start() throws {
        let config = try commandOutput("\(Paths.packageRoot)/scripts/nginx-conf", [home, String(port)])
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(home)/nginx.conf"))
        guard let nginxPath = Paths.which("nginx") else { throw HTTPClient.Failure(description: "nginx is not installed") }
        nginx = try ChildProcess(nginxPath, ["-p", home, "-c", "\(home)/nginx.conf", "-e", "stderr", "-g", "daemon off;"],
                                 environment: environment, logPath: "\(home)/log/nginx.out")
        if let path = Paths.which("fcgiwrap") {
            fcgiwrap = try ChildProcess(path, ["-s", "unix:\(home)/run/fcgiwrap.sock"], environment: environment, logPath: "\(home)/log/fcgiwrap.log")
        }
        try startHandler()
        guard eventually({ HTTPClient.isListening(port: self.port) }) else {
            throw HTTPClient.Failure(description: "nginx did not start: \(nginx!.log)")
        }
    }

    public func startHandler() throws {
        // A killed Handler leaves its socket file behind; wait for the new one, not the old.
        unlink(socketPath)
        handler = try ChildProcess(Paths.product("llm-deploy-handler"), ["--socket", socketPath],
                                   environment: environment, logPath: "\(home)/log/handler.log")
        guard eventually({ FileManager.default.fileExists(atPath: self.socketPath) && self.handler!.process.isRunning }) else {
            throw HTTPClient.Failure(description: "the Handler did not start: \(handler!.log)")
        }
    }

    public func stop() {
        handler?.stop()
        fcgiwrap?.stop(signal: SIGKILL)
        nginx?.stop(signal: SIGQUIT)
    }

    /// A valid request body for this stack; `changes` replace or (with `nil`) remove fields.
    public func request(_ changes: [String: Any?] = [:]) -> [String: Any] {
        var object: [String: Any] = [
            "email": "student@example.com", "secret": secret, "task": "captcha-solver-3f2a1", "round": 1,
            "nonce": UUID().uuidString, "brief": "Create a page that shows the sum of the CSV's numbers.",
            // Every page the tests publish has a heading: the check stage passes it first time.
            "checks": ["document.querySelector('h1') !== null"],
            "evaluation_url": "http://127.0.0.1:9/notify",
            "attachments": [["name": "data.csv", "url": "data:text/csv;base64,YSxiCjEsMgo="]],
        ]
        for (key, value) in changes {
            if let value { object[key] = value } else { object.removeValue(forKey: key) }
        }
        return object
    }

    /// Every file in the spool's queues and tmp/.
    public func spooledFiles() -> [String] {
        ["tmp", "incoming", "active", "deferred", "done", "failed"].flatMap { queue in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(queue)")) ?? []).map { "\(queue)/\($0)" }
        }
    }
}

extension LocalStack {
    /// Runs `llm-deploy-finisher ARGUMENTS` with the stack's environment and waits for it.
    @discardableResult
    public func finisher(_ arguments: [String], environment extra: [String: String] = [:], timeout: TimeInterval = 120) throws -> (status: Int32, reason: Process.TerminationReason, log: String) {
        let child = try ChildProcess(
            Paths.product("llm-deploy-finisher"), arguments, environment: environment.merging(extra) { _, new in new },
            logPath: "\(home)/log/finisher-\(UUID().uuidString.prefix(8)).log")
        guard child.waitForExit(timeout: timeout) != nil else {
            child.stop(signal: SIGKILL)
            throw HTTPClient.Failure(description: "llm-deploy-finisher \(arguments.joined(separator: " ")) did not finish in \(Int(timeout)) s: \(child.log)")
        }
        return (child.process.terminationStatus, child.process.terminationReason, child.log)
    }

    /// The journal of a task, decoded.
    public func journal(_ id: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(spool)/journal/\(id).json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Spools a request through nginx and the Handler; returns its task ID.
    public func submit(_ changes: [String: Any?] = [:]) throws -> String {
        let response = try HTTPClient.postJSON(port: port, request(changes))
        guard response.status == 200, let id = response.json?["id"] as? String else {
            throw HTTPClient.Failure(description: "submit: \(response.status) \(response.text)")
        }
        return id
    }

    /// Runs git in the test's own clean configuration.
    public func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        try commandOutput(
            "/usr/bin/git", (directory.map { ["-C", $0] } ?? []) + arguments,
            environment: ["PATH": "/usr/bin:/bin", "HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Starts a stack, runs `body`, and stops the stack whatever happens.
public func withStack<T>(environment: [String: String] = [:], _ body: (LocalStack) throws -> T) throws -> T {
    let stack = try LocalStack(environment: environment)
    defer { stack.stop() }
    try stack.start()
    return try body(stack)
}
