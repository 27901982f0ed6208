import Foundation
import Logging
import SiteCheck
import Spool

/// Runs a claimed task through its stages (`prepare → generate → scan → check → publish →
/// pages → repair`), journaling each completion before the next starts, so a Finisher killed anywhere
/// resumes at the first stage not yet journaled. The last stage, `notify`, is not run here: a
/// published task goes to the notify queue (`NotifyQueue`), which resends without holding a
/// slot. It knows the stage list and what to do when a stage fails (defer with back-off, or
/// fail), not what any stage does.
struct PipelineEngine: Sendable {
    let spool: SpoolDirectory
    /// `LLM_DEPLOY_DATA`: where work directories live.
    let dataRoot: String
    /// Seconds from receipt to the notification.
    let deadline: TimeInterval
    let stages: [any PipelineStage]
    let logger: Logger
    /// Whether more than one sender can reach the service (repository names carry the sender).
    var multipleSenders = false
    /// Called after each stage is journaled; tests use it to crash the process at that point.
    var afterStage: (@Sendable (Stage) -> Void)? = nil

    /// Where the task goes next.
    enum Outcome: Sendable, Equatable {
        /// Every stage completed: the task is published, its notification due.
        case published
        case deferred(until: Date, reason: String)
        case failed(reason: String)
    }

    /// The stages in order, built from the process's services.
    static func stages(
        generator: any Generator, fallback: any Generator, forge: any Forge,
        scanner: SecretScanner, pages: PagesVerifier, attachments: AttachmentLoader, documents: RepositoryDocuments,
        checks: CheckSettings? = nil, checkAttempts: Int = 3, spool: SpoolDirectory? = nil
    ) -> [any PipelineStage] {
        let generation = GenerateStage(generator: generator, fallback: fallback, attachments: attachments, documents: documents,
                                       checks: checks, spool: spool)
        let scan = ScanStage(scanner: scanner, generation: generation)
        let pagesStage = PagesStage(forge: forge, verifier: pages)
        return [
            PrepareStage(attachments: attachments, forge: forge),
            generation,
            scan,
            CheckStage(settings: checks, maximumAttempts: checkAttempts, generation: generation, scanner: scanner,
                       judge: (generator as? ChatCompletionsGenerator).map { CheckJudge(model: $0.model, client: $0.client) }, spool: spool),
            PublishStage(forge: forge),
            pagesStage,
            WorkflowRepairStage(forge: forge, generation: generation, scan: scan, pages: pagesStage),
        ]
    }

    func run(_ request: TaskRequest, journal: inout TaskJournal) async -> Outcome {
        var log = logger
        log[metadataKey: "id"] = "\(journal.id)"
        let spool = self.spool
        let claim = RepositoryResolver(spool: spool, multipleSenders: multipleSenders).claim(for: request, journal: journal)
        var task = TaskRun(
            request: request, journal: journal, work: WorkTree(dataRoot: dataRoot, id: journal.id),
            // After an operator's retry the clock starts again, as the notify horizon does.
            deadline: Deadline(receivedAt: journal.retriedAt ?? journal.receivedAt, total: deadline),
            logger: log, save: { try spool.writeJournal($0) }, claim: claim)
        // Decided once: a rerun publishes where the first run meant to, whatever else changed.
        task.journal.outputs.repository = claim.name
        defer { journal = task.journal }
        forgetStagesWhoseOutputIsGone(&task)
        for stage in stages where !task.journal.completed.contains(stage.stage) {
            let name = stage.stage
            let started = Date()
            log.info("stage started", metadata: ["stage": "\(name.rawValue)", "round": "\(request.round)"])
            do {
                try await stage.run(&task)
                task.journal.completed.append(name)
                task.journal.attempts.append(.init(stage: name, startedAt: started, finishedAt: .now, outcome: "completed"))
                task.journal.updatedAt = .now
                try spool.writeJournal(task.journal)
                log.info("stage completed", metadata: [
                    "stage": "\(name.rawValue)", "seconds": .stringConvertible((Date().timeIntervalSince(started) * 1000).rounded() / 1000),
                ])
                afterStage?(name)
            } catch {
                let failure = (error as? PipelineError) ?? .transient("\(error)")
                task.journal.attempts.append(.init(
                    stage: name, startedAt: started, finishedAt: .now, outcome: failure.isTransient ? "transient" : "permanent",
                    error: failure.description))
                log.warning("stage failed", metadata: [
                    "stage": "\(name.rawValue)", "transient": .stringConvertible(failure.isTransient), "error": "\(failure.description)",
                ])
                switch failure {
                case .permanent(let reason):
                    return .failed(reason: "\(name.rawValue): \(reason)")
                case .transient(let reason, _) where task.journal.deferrals >= Self.maximumDeferrals:
                    return .failed(reason: "\(name.rawValue): still failing after \(task.journal.deferrals) deferrals; last: \(reason)")
                case .transient(let reason, let retryAfter):
                    let delay = retryAfter ?? Self.backoff(deferrals: task.journal.deferrals)
                    return .deferred(until: Date().addingTimeInterval(delay), reason: "\(name.rawValue): \(reason)")
                }
            }
        }
        return .published
    }

    /// Transient failures tolerated before a task fails for good (with the back-off below, about
    /// two hours of retrying); `retry` starts the count again.
    static let maximumDeferrals = 16

    /// Exponential back-off with ±20 % jitter: 30 s, 60 s, 120 s … capped at 10 minutes.
    static func backoff(deferrals: Int) -> TimeInterval {
        let base = min(600, 30 * pow(2, Double(min(deferrals, 10))))
        return base * Double.random(in: 0.8...1.2)
    }

    /// A journal may say "generated" while the work tree is gone (data directory wiped): redo
    /// from the first stage whose output is missing rather than publish nothing.
    private func forgetStagesWhoseOutputIsGone(_ task: inout TaskRun) {
        guard let first = stages.first(where: { task.journal.completed.contains($0.stage) && $0.mustRunAgain(task) }) else { return }
        task.logger.notice("work directory incomplete; running stages again", metadata: ["from": "\(first.stage.rawValue)"])
        task.journal.completed.removeAll { $0 >= first.stage }
    }
}
