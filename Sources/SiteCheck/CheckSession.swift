import Foundation
import Spool

/// A headless Chromium kept for one or more check runs (the repair loop runs the same checks
/// on several trees; only the first pays for the browser's start). Each run serves its tree on
/// a new loopback port (a new origin, so no storage carries over), loads the page, waits for
/// the load event and a quiet network, then evaluates the checks one by one.
///
/// A check or page that hangs the renderer leaves chromedriver waiting forever, so every
/// command has its own bound; on a hang or a crash the whole browser is killed and a fresh one
/// started for the checks left (at most `maximumRestarts` times).
public actor CheckSession {
    public let settings: CheckSettings
    private let directory: RunDirectory
    private var browser: Browser?
    private var generation = 0
    private var notes: [String] = []
    private var runs = 0
    /// Short WebDriver commands (probe, URL, log): a healthy browser answers in milliseconds.
    private let commandTimeout: TimeInterval = 5
    /// A check's own timer answers at `checkTimeout`; no answer this much later means the
    /// renderer is stuck in a synchronous loop.
    private let scriptMargin: TimeInterval = 2

    private init(settings: CheckSettings, directory: RunDirectory) {
        self.settings = settings
        self.directory = directory
    }

    /// Starts chromedriver and Chromium.
    /// - Throws: `SiteCheckError.notInstalled` when Chromium, chromedriver or nginx is missing
    ///   (the caller records "skipped: chromium not found"), or why they did not start.
    public static func start(_ settings: CheckSettings) async throws(SiteCheckError) -> CheckSession {
        guard settings.chromium != nil else { throw .notInstalled("chromium") }
        guard settings.chromedriver != nil else { throw .notInstalled("chromedriver") }
        guard settings.nginx != nil else { throw .notInstalled("nginx") }
        let session = CheckSession(settings: settings, directory: try RunDirectory.create(under: settings.workRoot))
        do {
            try await session.startBrowser()
        } catch {
            await session.close()
            throw error
        }
        return session
    }

    /// Kills the browser and removes the run directory. Safe to call twice.
    public func close() {
        browser?.close()
        browser = nil
        directory.reap()
    }

    /// The run directory (for tests that look for leftovers).
    public nonisolated var runDirectory: String { directory.path }

    /// Processes still alive that this session started.
    public nonisolated func liveProcesses() -> [pid_t] { directory.liveProcesses() }

    private func startBrowser() async throws(SiteCheckError) {
        generation += 1
        browser = try await Browser.start(settings: settings, in: directory, generation: generation)
        if settings.runningAsRoot && generation == 1 {
            notes.append("running as root: Chromium runs with --no-sandbox")
        }
    }

    /// Runs `checks` against `tree` served as `/<repository>/`, within `budget` seconds (default:
    /// the settings' `runBudget`). Never throws: what could not be run is in the results, with
    /// the reason.
    public func run(checks: [String], tree: String, repository: String, budget: TimeInterval? = nil) async -> CheckReport {
        let started = Date()
        let runBudget = budget ?? settings.runBudget
        let budgetEnd = started.addingTimeInterval(runBudget)
        var run = Run(checks: checks)
        notes = notes.filter { $0.hasPrefix("running as root") }
        let server: PagesServer
        do {
            server = try await PagesServer.start(tree: tree, repository: repository, nginx: settings.nginx ?? "nginx", in: directory, timeout: 10)
        } catch {
            run.finishAll(.error, "not run: the loopback server did not start: \(error)")
            return run.report(notes: notes, started: started)
        }
        defer { server.stop() }
        runs += 1
        if runs > 1, let session = browser?.session {
            // Each run serves on a new port, a new origin with empty storage; cookies are per
            // host, not per port, and the cache is shared, so they are cleared for the next tree.
            _ = try? await session.devTools("Network.clearBrowserCookies", timeout: commandTimeout)
            _ = try? await session.devTools("Network.clearBrowserCache", timeout: commandTimeout)
        }

        var pending = run.javascript[...]
        var restarts = 0
        loading: while !pending.isEmpty {
            let load = await loadPage(server, evidence: &run.evidence)
            switch load {
            case .ready:
                break
            case .hung(let reason):
                run.finish(pending, .error, "not run: \(reason)")
                pending = []
                // Every further command would wait on the stuck renderer too.
                browser?.close()
                browser = nil
                break loading
            case .browserLost(let reason):
                guard restarts < settings.maximumRestarts, await restart(after: reason) else {
                    run.finish(pending, .error, "not run: the browser was lost while loading the page (\(reason))")
                    pending = []
                    break loading
                }
                restarts += 1
                continue loading
            }
            while let index = pending.first {
                guard Date() < budgetEnd else {
                    run.finish(pending, .skipped, "not run: the check run's budget of \(Int(runBudget)) s was spent")
                    pending = []
                    break loading
                }
                pending = pending.dropFirst()
                let outcome = await evaluate(index, in: &run)
                if case .browserLost(let reason) = outcome {
                    guard restarts < settings.maximumRestarts, Date() < budgetEnd, await restart(after: reason) else {
                        run.finish(pending, .error, "not run: the browser was lost \(restarts + 1) times")
                        pending = []
                        break loading
                    }
                    restarts += 1
                    continue loading
                }
            }
        }
        if let session = browser?.session {
            await collectEvidence(session, server: server, into: &run.evidence, includePage: false)
        }
        run.evidence.failedRequests = Self.unique(server.failedRequests() + run.evidence.failedRequests)
        return run.report(notes: notes, started: started, version: browser?.session.browserVersion)
    }

    // MARK: - The page

    private enum Load {
        case ready
        /// The page itself does not respond; a fresh browser would hang the same way.
        case hung(String)
        case browserLost(String)
    }

    private func loadPage(_ server: PagesServer, evidence: inout PageEvidence) async -> Load {
        if browser == nil {
            do {
                try await startBrowser()
            } catch {
                return .browserLost("\(error)")
            }
        }
        guard let session = browser?.session else { return .browserLost("no browser") }
        // Navigate To returns at the load event; chromedriver answers `timeout` after its
        // pageLoad timeout, and nothing at all when the renderer is stuck.
        do {
            try await session.navigate(server.pageURL, timeout: settings.pageLoadTimeout + commandTimeout)
        } catch let failure {
            if case .command(let error, _, _) = failure, error == "timeout" {
                evidence.loadProblem = "the page did not finish loading within \(Int(settings.pageLoadTimeout)) s"
                do {
                    _ = try await dismissingDialogs(&evidence) { try await session.execute("return 1", timeout: self.scriptMargin) }
                } catch {
                    let reason = "the page stopped responding while loading (a script on it may loop forever)"
                    evidence.loadProblem = reason
                    return .hung(reason)
                }
            } else if case .unresponsive = failure {
                let reason = "the page stopped responding while loading (a script on it may loop forever)"
                evidence.loadProblem = reason
                return .hung(reason)
            } else if failure.browserLost {
                return .browserLost(failure.description)
            } else if case .command(let error, _, let alert) = failure, error == "unexpected alert open" {
                if let alert { evidence.dialogs.append(String(alert.prefix(200))) }
            } else {
                evidence.loadProblem = failure.description
            }
        }
        // Network idle: nothing in flight and no new resource for `networkQuiet`, bounded.
        let idleEnd = Date().addingTimeInterval(settings.networkIdleTimeout)
        while true {
            let probe: [String: Any]?
            do {
                probe = try await dismissingDialogs(&evidence) { try await session.execute(PageHooks.idleProbe, timeout: self.commandTimeout) } as? [String: Any]
            } catch let failure as WebDriverFailure where failure.browserLost {
                if case .unresponsive = failure {
                    let reason = "the page stopped responding after loading (a script on it may loop forever)"
                    evidence.loadProblem = reason
                    return .hung(reason)
                }
                return .browserLost(failure.description)
            } catch {
                break
            }
            let quiet = (probe?["quiet"] as? NSNumber)?.doubleValue ?? 0
            let inFlight = (probe?["pending"] as? NSNumber)?.intValue ?? 0
            if probe?["ready"] as? String == "complete", inFlight <= 0, quiet >= settings.networkQuiet * 1000 { break }
            guard Date() < idleEnd else { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        await collectEvidence(session, server: server, into: &evidence, includePage: true)
        return .ready
    }

    /// What the hooks and Chromium's log saw; where the page went if it left.
    private func collectEvidence(_ session: WebDriverSession, server: PagesServer, into evidence: inout PageEvidence, includePage: Bool) async {
        if includePage {
            if let current = try? await dismissingDialogs(&evidence, { try await session.currentURL(timeout: self.commandTimeout) }) as? String {
                // A fragment is not a navigation; the page or its index.html is where it started.
                let page = current.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? current
                if page != server.pageURL && page != server.pageURL + "index.html" { evidence.navigatedTo = String(current.prefix(200)) }
            }
            if let seen = try? await dismissingDialogs(&evidence, { try await session.execute(PageHooks.evidence, timeout: self.commandTimeout) }) as? [String: Any] {
                evidence.consoleErrors = Self.unique(evidence.consoleErrors + (seen["console"] as? [String] ?? []))
                evidence.exceptions = Self.unique(evidence.exceptions + (seen["exceptions"] as? [String] ?? []))
                evidence.failedRequests = Self.unique(evidence.failedRequests + (seen["failed"] as? [String] ?? []))
            }
        }
        // Network and security messages name loads the hooks cannot see (a blocked script, a
        // CDN that did not resolve). Loopback 4xx are in the access log already.
        if let entries = try? await session.browserLog(timeout: commandTimeout) {
            let origin = "127.0.0.1:\(server.port)"
            let blocked = entries.compactMap { entry -> String? in
                guard entry["level"] as? String == "SEVERE", let source = entry["source"] as? String, ["network", "security"].contains(source),
                      let message = entry["message"] as? String, !(message.contains(origin) && message.contains("status of")),
                      !message.contains("/favicon.ico") else { return nil }
                return String(message.prefix(240))
            }
            evidence.failedRequests = Self.unique(evidence.failedRequests + blocked)
        }
    }

    // MARK: - One check

    private enum Evaluation {
        case done
        case browserLost(String)
    }

    private func evaluate(_ index: Int, in run: inout Run) async -> Evaluation {
        guard let session = browser?.session, case .javascript(let expression, let explicit) = run.kinds[index] else { return .done }
        let started = Date()
        let seconds = { (Date().timeIntervalSince(started) * 1000).rounded() / 1000 }
        let limit = settings.checkTimeout
        do {
            let value = try await dismissingDialogs(&run.evidence) {
                try await session.executeAsync(PageHooks.check(expression), [Int(limit * 1000)], timeout: limit + self.scriptMargin)
            }
            run.results[index] = Self.result(run.checks[index], value, limit: limit, seconds: seconds())
            return .done
        } catch let failure as WebDriverFailure {
            switch failure {
            case .command(let error, let message, _) where error == "javascript error":
                let detail = WebDriverFailure.firstLine(message).replacingOccurrences(of: "javascript error: ", with: "")
                run.results[index] = explicit
                    ? CheckResult(check: run.checks[index], status: .error, reason: "not valid JavaScript: \(detail)", seconds: seconds())
                    : CheckResult(check: run.checks[index], status: .needsJudgement, reason: "reads like prose, not a JavaScript expression (\(detail))")
                return .done
            case .unresponsive:
                run.results[index] = CheckResult(
                    check: run.checks[index], status: .error,
                    reason: "no answer within \(Int(limit + scriptMargin)) s (an endless loop?); the browser was restarted", seconds: seconds())
                return .browserLost("check \(index + 1) hung the browser")
            case let lost where lost.browserLost:
                run.results[index] = CheckResult(check: run.checks[index], status: .error, reason: "the browser was lost during this check (\(lost))", seconds: seconds())
                return .browserLost(lost.description)
            default:
                run.results[index] = CheckResult(check: run.checks[index], status: .error, reason: failure.description, seconds: seconds())
                return .done
            }
        } catch {
            run.results[index] = CheckResult(check: run.checks[index], status: .error, reason: "\(error)", seconds: seconds())
            return .done
        }
    }

    /// The wrapper's answer, as a result.
    static func result(_ check: String, _ value: Any?, limit: TimeInterval, seconds: Double) -> CheckResult {
        guard let answer = value as? [String: Any], let outcome = answer["outcome"] as? String else {
            return CheckResult(check: check, status: .error, reason: "no result (a dialog or a navigation interrupted it)", seconds: seconds)
        }
        let text = answer["text"] as? String ?? ""
        switch outcome {
        case "value":
            let truthy = answer["truthy"] as? Bool ?? false
            if answer["type"] as? String == "boolean" {
                return CheckResult(check: check, status: truthy ? .passed : .failed, reason: truthy ? nil : "returned false", seconds: seconds)
            }
            let type = answer["type"] as? String ?? "?"
            return CheckResult(
                check: check, status: truthy ? .passed : .failed,
                reason: "returned \(type) \(text), not a boolean (\(truthy ? "truthy" : "falsy"))", seconds: seconds)
        case "threw":
            return CheckResult(check: check, status: .failed, reason: "threw \(text)", seconds: seconds)
        default:
            return CheckResult(check: check, status: .failed, reason: "did not settle within \(Int(limit)) s", seconds: seconds)
        }
    }

    // MARK: - Dialogs, restarts

    /// Runs a command again when an `alert()` was open (chromedriver has dismissed it and says
    /// so instead of running the command), noting the dialog's text.
    private func dismissingDialogs(_ evidence: inout PageEvidence, _ body: () async throws -> Any?) async throws -> Any? {
        for _ in 0..<4 {
            do {
                return try await body()
            } catch let failure as WebDriverFailure {
                guard case .command(let error, _, let alert) = failure, error == "unexpected alert open" else { throw failure }
                if evidence.dialogs.count < 10 { evidence.dialogs.append(String((alert ?? "").prefix(200))) }
            }
        }
        return try await body()
    }

    private func restart(after reason: String) async -> Bool {
        browser?.close()
        browser = nil
        notes.append("browser restarted: \(reason)")
        do {
            try await startBrowser()
            return true
        } catch {
            notes.append("browser did not restart: \(error)")
            return false
        }
    }

    private static func unique(_ lines: [String]) -> [String] {
        var seen = Set<String>()
        return Array(lines.filter { seen.insert($0).inserted }.prefix(30))
    }
}

/// The results of one run as they fill in.
private struct Run {
    let checks: [String]
    let kinds: [CheckKind]
    var results: [CheckResult?]
    var evidence = PageEvidence()

    init(checks: [String]) {
        self.checks = checks
        kinds = checks.map(CheckKind.init)
        results = zip(checks, kinds).map { check, kind in
            kind == .judgement ? CheckResult(check: check, status: .needsJudgement, reason: "not JavaScript: to be judged against the tree") : nil
        }
    }

    /// The checks the browser evaluates, in order.
    var javascript: [Int] { kinds.indices.filter { kinds[$0] != .judgement } }

    mutating func finish(_ indices: some Sequence<Int>, _ status: CheckResult.Status, _ reason: String) {
        for index in indices where results[index] == nil {
            results[index] = CheckResult(check: checks[index], status: status, reason: reason)
        }
    }

    mutating func finishAll(_ status: CheckResult.Status, _ reason: String) { finish(javascript, status, reason) }

    func report(notes: [String], started: Date, version: String? = nil) -> CheckReport {
        var report = CheckReport(results: results.enumerated().map { index, result in
            result ?? CheckResult(check: checks[index], status: .error, reason: "not run")
        })
        report.evidence = evidence
        report.notes = notes
        report.browserVersion = version
        report.seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        return report
    }
}

extension CheckSession {
    /// One run in a browser of its own: start, run, close. Without Chromium (or chromedriver,
    /// or nginx) the page checks are skipped with that reason; the run never throws.
    public static func run(checks: [String], tree: String, repository: String, settings: CheckSettings) async -> CheckReport {
        let started = Date()
        do {
            let session = try await start(settings)
            let report = await session.run(checks: checks, tree: tree, repository: repository)
            await session.close()
            return report
        } catch {
            var run = Run(checks: checks)
            if case .notInstalled = error {
                run.finishAll(.skipped, "skipped: \(error.skipReason)")
            } else {
                run.finishAll(.error, "not run: \(error)")
            }
            return run.report(notes: [], started: started)
        }
    }
}
