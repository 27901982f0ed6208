public import FoundationEssentials

/// What became of one of the brief's checks when it was run against the built site. The
/// journal, `status --json` and `GET /status/ID` carry these, so they live beside the journal.
public struct CheckResult: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable, Equatable, CaseIterable {
        /// The expression held (a non-boolean counts by JavaScript truthiness, said in `reason`).
        case passed
        /// It did not hold, threw, or never settled.
        case failed
        /// It could not be evaluated: not valid JavaScript, a hung or crashed browser.
        case error
        /// Not run, for the reason given (no Chromium, budget spent).
        case skipped
        /// Not JavaScript ("Repo has MIT license"): for a model to judge against the tree.
        case needsJudgement = "needs_judgement"
    }

    /// The check as the brief wrote it, cut to 500 characters.
    public var check: String
    public var status: Status
    /// Why, in a sentence: the value returned, the exception, the timeout. Never a page body.
    public var reason: String?
    /// Time spent evaluating it in the browser.
    public var seconds: Double?
    /// The round whose brief listed it, when it is re-run as a regression check in a later round.
    public var round: Int?

    public init(check: String, status: Status, reason: String? = nil, seconds: Double? = nil, round: Int? = nil) {
        self.check = String(check.prefix(500))
        self.status = status
        self.reason = reason.map { String($0.prefix(400)) }
        self.seconds = seconds
        self.round = round
    }
}

extension Array where Element == CheckResult {
    /// `checks 5/6`: passed out of the checks that were decided (passed, failed, error), then
    /// what is still open.
    public var summary: String {
        let passed = filter { $0.status == .passed }.count
        let decided = filter { [.passed, .failed, .error].contains($0.status) }.count
        var line = "checks \(passed)/\(decided)"
        let judgement = filter { $0.status == .needsJudgement }.count
        let skipped = filter { $0.status == .skipped }.count
        if judgement > 0 { line += ", \(judgement) to judge" }
        if skipped > 0 { line += ", \(skipped) skipped" }
        return line
    }

    /// How many passed: the measure by which one built tree is better than another.
    public var passedCount: Int { filter { $0.status == .passed }.count }
}

/// The `check` stage's record in the journal: every attempt (the first tree and each repair),
/// and the results of the tree that was kept for publishing.
public struct CheckRecord: Sendable, Codable, Equatable {
    /// One tree checked.
    public struct Attempt: Sendable, Codable, Equatable {
        /// 1 for the generated tree, 2… for repairs.
        public var attempt: Int
        public var at: Date
        /// `checks 5/6` (this round's checks), then the regression line when there is one.
        public var summary: String
        public var results: [CheckResult]
        /// Earlier rounds' checks re-run on this tree.
        public var regression: [CheckResult]
        /// Console errors, uncaught exceptions, failed requests: short lines, no page bodies.
        public var evidence: [String]
        /// Why this tree was not used (a credential in a repair, a repair that failed).
        public var rejected: String?

        public init(attempt: Int, at: Date = .now, results: [CheckResult], regression: [CheckResult], evidence: [String], rejected: String? = nil) {
            self.attempt = attempt
            self.at = at
            self.results = results
            self.regression = regression
            self.evidence = Array(evidence.prefix(20).map { String($0.prefix(300)) })
            self.rejected = rejected
            summary = CheckRecord.summary(results: results, regression: regression)
        }

        /// Checks passed, this round's and earlier rounds' together: how trees are compared.
        public var passed: Int { results.passedCount + regression.passedCount }
    }

    public var attempts: [Attempt] = []
    /// The attempt whose tree is published.
    public var kept: Int?
    /// Why the checks were not run at all ("skipped: chromium not found").
    public var skipped: String?

    public init() {}

    /// The kept attempt.
    public var keptAttempt: Attempt? { attempts.first { $0.attempt == kept } }

    /// `checks 5/6` for the published tree, `regression 3/3` after it when earlier rounds had checks.
    public var summary: String {
        if let keptAttempt { return keptAttempt.summary }
        return skipped.map { "checks \($0)" } ?? "checks -"
    }

    public static func summary(results: [CheckResult], regression: [CheckResult]) -> String {
        var line = results.summary
        if !regression.isEmpty {
            let passed = regression.passedCount
            let decided = regression.filter { [.passed, .failed, .error].contains($0.status) }.count
            line += "; regression \(passed)/\(decided)"
        }
        return line
    }

    enum CodingKeys: String, CodingKey {
        case attempts, kept, skipped
    }
}
