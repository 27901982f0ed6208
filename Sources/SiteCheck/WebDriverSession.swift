import Foundation

/// Why a WebDriver command gave no value.
enum WebDriverFailure: Error, Sendable, CustomStringConvertible {
    /// A W3C error answer (`javascript error`, `timeout`, `unexpected alert open`, …); for an
    /// alert, `alertText` is the dialog's message, which chromedriver has dismissed.
    case command(error: String, message: String, alertText: String?)
    /// No answer within our own bound: the renderer is stuck (chromedriver waits on it forever
    /// once a script loops, whatever the script timeout says).
    case unresponsive(seconds: Double)
    /// chromedriver is gone or the connection broke.
    case unreachable(String)

    var description: String {
        switch self {
        case .command(let error, let message, _): "\(error): \(Self.firstLine(message))"
        case .unresponsive(let seconds): "the browser gave no answer within \(Int(seconds.rounded())) s"
        case .unreachable(let detail): "chromedriver unreachable: \(detail)"
        }
    }

    /// Whether the browser (not the page) is lost: Chromium crashed, was killed or hangs.
    var browserLost: Bool {
        switch self {
        case .unresponsive, .unreachable: true
        case .command(let error, let message, _):
            ["invalid session id", "no such window", "session not created"].contains(error)
                || message.contains("tab crashed") || message.contains("chrome not reachable") || message.contains("disconnected")
        }
    }

    /// chromedriver appends "(Session info: …)" and stack lines; the first line is the news.
    static func firstLine(_ message: String) -> String {
        String(message.split(separator: "\n").first ?? "").prefix(300).description
    }
}

/// A W3C WebDriver session on chromedriver, over loopback HTTP
/// (https://www.w3.org/TR/webdriver2/ — New Session, Navigate To, Execute Async Script — and
/// chromedriver's `/goog/cdp/execute` for DevTools commands). Every command has a bound of its
/// own on top of chromedriver's timeouts.
struct WebDriverSession: Sendable {
    let port: Int
    let id: String
    let browserVersion: String

    /// POST /session with Chromium's options; the timeouts are WebDriver's (milliseconds).
    static func create(port: Int, chromium: String, profile: String, sandbox: Bool, pageLoad: TimeInterval, script: TimeInterval, timeout: TimeInterval) async throws(WebDriverFailure) -> WebDriverSession {
        var arguments = [
            "--headless=new", "--user-data-dir=\(profile)", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--mute-audio", "--window-size=1280,900",
            // No crash handler: it would leave the process group (and outlive the run).
            "--disable-crash-reporter", "--disable-breakpad",
        ]
        if !sandbox { arguments.append("--no-sandbox") }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": ["binary": chromium, "args": arguments],
                    "timeouts": ["pageLoad": Int(pageLoad * 1000), "script": Int(script * 1000), "implicit": 0],
                    // A dialog is dismissed and the next command says so (`unexpected alert open`),
                    // as the evaluator's browser dismisses dialogs.
                    "unhandledPromptBehavior": "dismiss and notify",
                    "pageLoadStrategy": "normal",
                ] as [String: Any],
            ],
        ]
        let value = try await Self.send(port, "POST", "/session", capabilities, timeout: timeout)
        guard let object = value as? [String: Any], let id = object["sessionId"] as? String else {
            throw .command(error: "session not created", message: "no session ID in the answer", alertText: nil)
        }
        let version = (object["capabilities"] as? [String: Any])?["browserVersion"] as? String ?? "?"
        return WebDriverSession(port: port, id: id, browserVersion: version)
    }

    /// Navigate To: returns when the load event fired (or chromedriver's pageLoad timeout).
    func navigate(_ url: String, timeout: TimeInterval) async throws(WebDriverFailure) {
        _ = try await command("POST", "/url", ["url": url], timeout: timeout)
    }

    func currentURL(timeout: TimeInterval) async throws(WebDriverFailure) -> String {
        try await command("GET", "/url", nil, timeout: timeout) as? String ?? ""
    }

    /// Execute Script: `script` is a function body; its `return` value comes back.
    func execute(_ script: String, _ arguments: [Any] = [], timeout: TimeInterval) async throws(WebDriverFailure) -> Any? {
        try await command("POST", "/execute/sync", ["script": script, "args": arguments], timeout: timeout)
    }

    /// Execute Async Script: the value passed to the callback that is the last argument.
    func executeAsync(_ script: String, _ arguments: [Any] = [], timeout: TimeInterval) async throws(WebDriverFailure) -> Any? {
        try await command("POST", "/execute/async", ["script": script, "args": arguments], timeout: timeout)
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    @discardableResult
    func devTools(_ method: String, _ parameters: [String: Any] = [:], timeout: TimeInterval) async throws(WebDriverFailure) -> Any? {
        try await command("POST", "/goog/cdp/execute", ["cmd": method, "params": parameters], timeout: timeout)
    }

    /// chromedriver's browser log (console and network messages Chromium reported).
    func browserLog(timeout: TimeInterval) async throws(WebDriverFailure) -> [[String: Any]] {
        try await command("POST", "/se/log", ["type": "browser"], timeout: timeout) as? [[String: Any]] ?? []
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]?, timeout: TimeInterval) async throws(WebDriverFailure) -> Any? {
        try await Self.send(port, method, "/session/\(id)" + path, body, timeout: timeout)
    }

    private static func send(_ port: Int, _ method: String, _ path: String, _ body: [String: Any]?, timeout: TimeInterval) async throws(WebDriverFailure) -> Any? {
        let data = body.flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        let response: LoopbackHTTP.Response
        do {
            response = try await LoopbackHTTP.exchange(port: port, method: method, path: path, body: data, timeout: timeout)
        } catch {
            switch error {
            case .timedOut: throw .unresponsive(seconds: timeout)
            case .broken(let detail): throw .unreachable(detail)
            }
        }
        let object = (try? JSONSerialization.jsonObject(with: response.body, options: [.fragmentsAllowed])) as? [String: Any]
        let value = object?["value"]
        guard response.status == 200 else {
            let failure = value as? [String: Any]
            throw .command(
                error: failure?["error"] as? String ?? "HTTP \(response.status)",
                message: failure?["message"] as? String ?? "",
                alertText: (failure?["data"] as? [String: Any])?["text"] as? String)
        }
        return value is NSNull ? nil : value
    }
}
