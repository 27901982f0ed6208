import Foundation
import SiteCheck
import Spool

/// `check`: the brief's checks, and earlier rounds' checks as regression checks, run against
/// the built tree in headless Chromium as the evaluator will run them (docs/architecture.md).
/// Failures and what the page showed go back to the generator as feedback for a repair, while
/// the deadline and `LLM_DEPLOY_CHECK_ATTEMPTS` allow. The tree that passes the most checks is
/// kept (ties: the later one): a repair never makes the published tree worse.
///
/// Without Chromium the stage records why and the task goes on. Resumable: a Finisher killed
/// here leaves its browser to the reaper and its best tree in `checked/`, which the next run
/// puts back before anything else.
struct CheckStage: PipelineStage {
    let stage = Stage.check
    /// `nil` when `LLM_DEPLOY_CHECKS=off`.
    let settings: CheckSettings?
    let maximumAttempts: Int
    let generation: GenerateStage
    let scanner: SecretScanner
    /// Judges prose checks against the tree; `nil` without an LLM (they are then skipped).
    var judge: CheckJudge?
    /// Where earlier rounds' task files are (`nil`: no regression checks).
    let spool: SpoolDirectory?

    /// A repair is a generation plus a check run; without this much time before the reserve
    /// for publishing, the best tree so far is published instead.
    static let minimumForRepair: TimeInterval = 60

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        // A journal written before this stage existed may already be past publishing.
        guard !task.journal.completed.contains(.publish) else { return }
        var record = task.journal.checks ?? CheckRecord()
        guard let settings else {
            record.skipped = "skipped: LLM_DEPLOY_CHECKS=off"
            task.journal.checks = record
            return
        }
        let killed = CheckSession.reapAbandoned(under: settings.workRoot)
        if killed > 0 { task.logger.notice("killed a check run's browser left by a dead Finisher", metadata: ["processes": "\(killed)"]) }
        let checked = task.work.root.appendingPathComponent("checked")
        // Resuming: the kept tree goes back in place of whatever was being tried.
        if record.kept != nil, task.work.exists(checked) {
            try copyTree(from: checked, to: task.work.tree)
        }
        let checks = task.request.checks
        let regression = Self.earlierRoundsChecks(task.request, spool: spool)
        guard !checks.isEmpty || !regression.isEmpty else {
            record.skipped = "none to run"
            task.journal.checks = record
            return
        }
        if record.attempts.count >= maximumAttempts, record.kept != nil {
            try? FileManager.default.removeItem(at: checked)
            return
        }
        let session: CheckSession
        do {
            session = try await CheckSession.start(settings)
        } catch {
            record.skipped = error.skipReason.hasSuffix("not found") ? "skipped: \(error.skipReason)" : "not run: \(error)"
            task.logger.warning("checks not run", metadata: ["reason": "\(record.skipped ?? "")"])
            task.journal.checks = record
            return
        }
        let outcome: Result<Void, PipelineError>
        do {
            try await repairLoop(&task, &record, session: session, checks: checks, regression: regression, checked: checked)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await session.close()
        task.journal.checks = record
        try outcome.get()
        try? FileManager.default.removeItem(at: checked)
    }

    private func repairLoop(
        _ task: inout TaskRun, _ record: inout CheckRecord, session: CheckSession, checks: [String], regression: [(round: Int, check: String)], checked: URL
    ) async throws(PipelineError) {
        var attempt = record.attempts.map(\.attempt).max() ?? 0
        while true {
            attempt += 1
            // The run itself gets what is left before the publishing reserve, within 20…90 s.
            let budget = min(settings?.runBudget ?? 90, max(20, task.deadline.budget(reserving: Deadline.afterGeneration, minimum: 0)))
            let report = await session.run(checks: checks + regression.map(\.check), tree: task.work.tree.path, repository: task.repository, budget: budget)
            var results = Array(report.results.prefix(checks.count))
            var earlier = zip(report.results.dropFirst(checks.count), regression).map { result, source in
                var result = result
                result.round = source.round
                return result
            }
            // Prose checks are judged against the tree by a model; with no model there is none.
            if let judge, generation.canRegenerate(task) {
                let files = (try? WorkTree.files(under: task.work.tree)) ?? [:]
                let seconds = min(60, max(10, task.deadline.budget(reserving: Deadline.afterGeneration, minimum: 0)))
                let judged = await judge.judge(results + earlier, tree: files, until: Date().addingTimeInterval(seconds))
                results = Array(judged.prefix(results.count))
                earlier = Array(judged.dropFirst(results.count))
            } else {
                results = results.map(Self.unjudged)
                earlier = earlier.map(Self.unjudged)
            }
            let entry = CheckRecord.Attempt(attempt: attempt, results: results, regression: earlier, evidence: report.evidence.lines + report.notes)
            record.attempts.append(entry)
            if let kept = record.keptAttempt, entry.passed < kept.passed {
                task.logger.warning("repair passes fewer checks; keeping the earlier tree", metadata: [
                    "attempt": "\(attempt)", "summary": "\(entry.summary)", "kept": "\(kept.attempt)",
                ])
                try copyTree(from: checked, to: task.work.tree)
            } else {
                record.kept = attempt
                try copyTree(from: task.work.tree, to: checked)
            }
            task.journal.checks = record
            try? task.save(task.journal)
            task.logger.info("checks run", metadata: ["attempt": "\(attempt)", "summary": "\(entry.summary)", "seconds": "\(report.seconds)"])

            let failing = (entry.results + entry.regression).filter(Self.repairable)
            guard !failing.isEmpty else { return }
            guard attempt < maximumAttempts, generation.canRegenerate(task) else { return }
            guard task.deadline.budget(reserving: Deadline.afterGeneration, minimum: 0) >= Self.minimumForRepair else {
                task.logger.notice("no time left for a repair; publishing the best tree", metadata: ["summary": "\(record.summary)"])
                return
            }
            let best = record.keptAttempt ?? entry
            let feedback = Self.feedback(failing: (best.results + best.regression).filter(Self.repairable),
                                         evidence: best.evidence, repository: task.repository)
            do {
                try await generation.generate(&task, feedback: feedback, fallbackOnFailure: false, session: session)
            } catch {
                task.logger.warning("repair failed; publishing the best tree", metadata: ["error": "\(error)"])
                record.attempts.append(.init(attempt: attempt + 1, results: [], regression: [], evidence: [], rejected: "the repair failed: \(error)"))
                try copyTree(from: checked, to: task.work.tree)
                return
            }
            // A repair is a new tree: it passes the secret gate like the first one.
            let findings = scanner.scan((try? WorkTree.files(under: task.work.tree)) ?? [:])
            guard findings.isEmpty else {
                task.logger.warning("repair contained credentials; publishing the best tree", metadata: ["findings": "\(findings.count)"])
                record.attempts.append(.init(attempt: attempt + 1, results: [], regression: [], evidence: [], rejected: "credentials in the repair"))
                try copyTree(from: checked, to: task.work.tree)
                return
            }
        }
    }

    /// Whether a different tree could make this check pass: a failure, or an error the page
    /// caused (an endless loop). Not a check that is not valid JavaScript, nor a lost browser.
    static func repairable(_ result: CheckResult) -> Bool {
        switch result.status {
        case .failed: true
        case .error:
            !["not run", "not valid JavaScript", "the browser was lost"].contains { (result.reason ?? "").hasPrefix($0) }
                || (result.reason ?? "").contains("loop forever")
        default: false
        }
    }

    private static func unjudged(_ result: CheckResult) -> CheckResult {
        guard result.status == .needsJudgement else { return result }
        var result = result
        result.status = .skipped
        result.reason = "skipped: no language model is configured to judge it"
        return result
    }

    /// The repair turn: which checks failed and why, what the page showed. Short: check texts,
    /// values and error lines, never page bodies.
    static func feedback(failing: [CheckResult], evidence: [String], repository: String) -> String {
        var text = """
        The site was served as GitHub Pages will serve it (under /\(repository)/) and loaded in headless Chromium, \
        as the evaluator loads it; then each check was evaluated on the page. These checks did not pass:

        """
        for result in failing.prefix(20) {
            let origin = result.round.map { " (round \($0)'s check: it must keep passing)" } ?? ""
            text += "- `\(result.check.prefix(300))`\(origin): \(result.reason ?? result.status.rawValue)\n"
        }
        if !evidence.isEmpty {
            text += "\nWhat the page showed while loading:\n"
            for line in evidence.prefix(12) { text += "- \(line.prefix(240))\n" }
        }
        text += """

        Fix the site so that every check passes, keeping what already works. Values a check reads must be in the page \
        once it has loaded (within a few seconds, without depending on a network request that can fail); element ids, \
        titles and texts must match the checks exactly.
        """
        return text
    }

    /// Checks of this task's earlier rounds, from their task files in done/ (or notify/, still
    /// being notified), not repeated when this round lists them too.
    static func earlierRoundsChecks(_ request: TaskRequest, spool: SpoolDirectory?) -> [(round: Int, check: String)] {
        guard request.round > 1, let spool else { return [] }
        var seen = Set(request.checks)
        var found: [(round: Int, check: String)] = []
        let earlier = [SpoolState.done, .notify].flatMap { state in spool.entries(in: state).map { (state, $0) } }.compactMap { state, name -> TaskRequest? in
            guard let data = try? spool.contents(of: name, in: state), let other = try? TaskRequest.decodeSpoolFile(data) else { return nil }
            return other.task == request.task && other.email == request.email && other.round < request.round ? other : nil
        }.sorted { $0.round < $1.round }
        for other in earlier {
            for check in other.checks where seen.insert(check).inserted { found.append((other.round, check)) }
        }
        return found
    }

    private func copyTree(from source: URL, to destination: URL) throws(PipelineError) {
        do {
            try WorkTree.write(try WorkTree.files(under: source), to: destination)
        } catch {
            throw .transient("keeping the checked tree: \(error)")
        }
    }
}
