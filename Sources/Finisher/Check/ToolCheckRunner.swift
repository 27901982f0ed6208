import Foundation
import SiteCheck
import Spool

/// `run_checks` in the tool loop: the tree the model has written so far, assembled and served
/// exactly as the check stage serves the final tree (attachments, LICENSE and README added,
/// under `/<repository>/`), with the brief's JavaScript checks and earlier rounds' checks run in
/// headless Chromium. The model sees what failed before it calls `finish`, instead of only in a
/// repair turn after it.
///
/// The browser starts on the first call, not before (most loops never call it), and `close()`
/// ends it; the stage that made the runner calls it whatever happened. A Finisher killed
/// meanwhile leaves the browser to the reaper, as the check stage does.
actor ToolCheckRunner {
    /// The brief's checks, numbered from 1 as the prompt shows them.
    let checks: [String]
    /// Earlier rounds' checks, run too when the model asks for every check.
    let regression: [(round: Int, check: String)]
    private let settings: CheckSettings
    private let repository: String
    /// Where each run's assembled tree is written (emptied by `close()`).
    private let directory: URL
    /// The pipeline's assembly of a generated tree: attachments, LICENSE, README.
    private let assemble: @Sendable (GenerationReport) throws(PipelineError) -> [String: Data]
    /// The check stage's browser, when a repair runs inside it: used, never closed here.
    private let shared: CheckSession?
    private var session: CheckSession?
    private var unavailable: String?
    private var closed = false

    /// A runner, or `nil` when there is nothing it could run: checks off (`settings` nil), a
    /// program missing, or no check that runs in the page.
    init?(
        settings: CheckSettings?, checks: [String], regression: [(round: Int, check: String)], repository: String, directory: URL,
        shared: CheckSession? = nil, assemble: @escaping @Sendable (GenerationReport) throws(PipelineError) -> [String: Data]
    ) {
        guard let settings, settings.chromium != nil, settings.chromedriver != nil, settings.nginx != nil,
              (checks + regression.map(\.check)).contains(where: { CheckKind($0) != .judgement }) else { return nil }
        self.settings = settings
        self.checks = checks
        self.regression = regression
        self.repository = repository
        self.directory = directory
        self.shared = shared
        self.assemble = assemble
    }

    /// Runs the checks numbered `numbers` (every check, earlier rounds' included, when `nil`)
    /// on `report`'s tree within `budget` seconds, and says how each ended: a few lines, never
    /// a page body, at most `limit` characters.
    func run(_ report: GenerationReport, numbers: [Int]?, budget: TimeInterval, limit: Int) async -> ToolResult {
        guard !closed else { return .failed("the browser has been closed") }
        if let unavailable { return .failed(unavailable) }
        let chosen: [(label: String, check: String)] = numbers.map { $0.map { ("Check \($0)", checks[$0 - 1]) } }
            ?? checks.enumerated().map { ("Check \($0 + 1)", $1) } + regression.map { ("Round \($0.round)'s check", $0.check) }
        let page = chosen.filter { CheckKind($0.check) != .judgement }
        guard !page.isEmpty else {
            return .refused("none of these checks runs in the page: they are judged by reading the repository when you finish")
        }
        let tree: [String: Data]
        do {
            tree = try assemble(report)
            try WorkTree.write(tree, to: directory)
        } catch {
            return .failed("the tree could not be assembled: \(error)")
        }
        let browser: CheckSession
        if let running = shared ?? session {
            browser = running
        } else {
            do {
                browser = try await CheckSession.start(settings)
                session = browser
            } catch {
                unavailable = "the browser did not start (\(error)); the checks run again after finish"
                return .failed(unavailable!)
            }
        }
        let result = await browser.run(checks: page.map(\.check), tree: directory.path, repository: repository, budget: budget)
        return .ok(Self.describe(result, labels: page.map(\.label), skipped: chosen.count - page.count, repository: repository, limit: limit))
    }

    /// Ends the browser (not a shared one) and removes the served tree. Safe to call twice.
    func close() async {
        closed = true
        await session?.close()
        session = nil
        try? FileManager.default.removeItem(at: directory)
    }

    /// The report in a few short lines: one per check, then what the page showed while loading.
    static func describe(_ report: CheckReport, labels: [String], skipped: Int, repository: String, limit: Int) -> String {
        let passed = report.results.filter { $0.status == .passed }.count
        var text = "Served as GitHub Pages will serve it (under /\(repository)/) and loaded in headless Chromium: "
            + "\(passed) of \(report.results.count) checks passed.\n"
        for (label, result) in zip(labels, report.results) {
            let reason = (result.reason ?? "").replacingOccurrences(of: "\n", with: " ")
            text += "- \(label): \(result.status.rawValue)" + (reason.isEmpty ? "" : " — \(reason.prefix(300))") + "\n"
        }
        if skipped > 0 { text += "(\(skipped) check\(skipped == 1 ? " is" : "s are") not JavaScript: judged by reading the repository.)\n" }
        let evidence = report.evidence.lines
        if !evidence.isEmpty {
            text += "What the page showed while loading:\n"
            for line in evidence.prefix(12) { text += "- \(line.replacingOccurrences(of: "\n", with: " ").prefix(240))\n" }
        }
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "\n[… cut at \(limit) characters]"
    }
}
