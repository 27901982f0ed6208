import Foundation
import Spool

/// What the page showed besides the checks' values: the evidence a repair needs.
public struct PageEvidence: Sendable, Codable, Equatable {
    /// `console.error` calls.
    public var consoleErrors: [String] = []
    /// Uncaught exceptions and unhandled promise rejections, with file and line.
    public var exceptions: [String] = []
    /// Loopback requests answered 4xx/5xx (`404 GET /repo/app.js`), loads that failed or were
    /// blocked (an `error` event, a rejected fetch, a Content-Security-Policy refusal).
    public var failedRequests: [String] = []
    /// `alert`/`confirm`/`prompt` messages (dismissed, as the evaluator's browser does).
    public var dialogs: [String] = []
    /// Where the page went when it navigated away from itself before the checks ran.
    public var navigatedTo: String?
    /// Why the page did not load cleanly (load timeout, unresponsive page).
    public var loadProblem: String?

    public init() {}

    public var isEmpty: Bool { self == PageEvidence() }

    /// Lines for a repair prompt or a log, each short.
    public var lines: [String] {
        var lines: [String] = []
        if let loadProblem { lines.append("load: \(loadProblem)") }
        if let navigatedTo { lines.append("the page navigated away to \(navigatedTo)") }
        lines += exceptions.map { "uncaught: \($0)" } + consoleErrors.map { "console.error: \($0)" }
        lines += failedRequests.map { "request: \($0)" } + dialogs.map { "dialog: \($0)" }
        return lines
    }

    enum CodingKeys: String, CodingKey {
        case consoleErrors = "console_errors", exceptions, failedRequests = "failed_requests", dialogs
        case navigatedTo = "navigated_to", loadProblem = "load_problem"
    }
}

/// One run of a tree's checks.
public struct CheckReport: Sendable, Codable, Equatable {
    /// One per check, in the brief's order.
    public var results: [CheckResult]
    public var evidence = PageEvidence()
    public var browserVersion: String?
    /// What an operator should know: the sandbox is off as root, the browser was restarted.
    public var notes: [String] = []
    public var seconds: Double = 0

    public init(results: [CheckResult]) {
        self.results = results
    }

    /// `checks 5/6`.
    public var summary: String { results.summary }

    enum CodingKeys: String, CodingKey {
        case results, evidence, notes, seconds, browserVersion = "browser_version"
    }
}
