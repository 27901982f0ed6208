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
