import Foundation
import Logging
import Spool

/// Runs a claimed task through `prepare → generate → scan → publish → pages → notify`.
///
/// Each stage is idempotent and its completion is journaled before the next starts, so a
/// Finisher killed anywhere resumes at the first stage not yet journaled. The engine knows the
/// seams (`Generator`, `Forge`, `Notifier`), not GitHub or LLMs.
struct PipelineEngine: Sendable {
    let spool: SpoolDirectory
    let configuration: FinisherConfiguration
    let generator: any Generator
    let fallbackGenerator: any Generator
    let forge: any Forge
    let notifier: any Notifier
    let scanner: SecretScanner
    let pages: PagesVerifier
    let attachments: AttachmentLoader
    var schedule = NotificationSchedule()
    let documents: RepositoryDocuments
    let logger: Logger

    /// Where the task goes next.
    enum Outcome: Sendable, Equatable {
        case done
        case deferred(until: Date, reason: String)
        case failed(reason: String)
    }

    func run(_ request: TaskRequest, journal: inout TaskJournal) async -> Outcome {
        let work = WorkTree(dataRoot: configuration.dataRoot, id: journal.id)
        forgetStagesWhoseOutputIsGone(&journal, work: work)
        // After an operator's retry the clock starts again, as the notify horizon does.
        let deadline = Deadline(receivedAt: journal.retriedAt ?? journal.receivedAt, total: configuration.deadline)
        var log = logger
        log[metadataKey: "id"] = "\(journal.id)"
        for stage in Stage.allCases where !journal.completed.contains(stage) {
            let started = Date()
            log.info("stage started", metadata: ["stage": "\(stage.rawValue)", "round": "\(request.round)"])
            do {
                try await perform(stage, request: request, journal: &journal, work: work, deadline: deadline)
                journal.completed.append(stage)
                journal.attempts.append(.init(stage: stage, startedAt: started, finishedAt: .now, outcome: "completed"))
                journal.updatedAt = .now
                try spool.writeJournal(journal)
                log.info("stage completed", metadata: [
                    "stage": "\(stage.rawValue)", "seconds": .stringConvertible((Date().timeIntervalSince(started) * 1000).rounded() / 1000),
                ])
                if configuration.killAfter == stage { kill(getpid(), SIGKILL) }
            } catch {
                let failure = (error as? PipelineError) ?? .transient("\(error)")
                journal.attempts.append(.init(
                    stage: stage, startedAt: started, finishedAt: .now, outcome: failure.isTransient ? "transient" : "permanent",
                    error: failure.description))
                log.warning("stage failed", metadata: [
                    "stage": "\(stage.rawValue)", "transient": .stringConvertible(failure.isTransient), "error": "\(failure.description)",
                ])
                switch failure {
                case .permanent(let reason):
                    return .failed(reason: "\(stage.rawValue): \(reason)")
                case .transient(let reason, _) where journal.deferrals >= Self.maximumDeferrals:
                    return .failed(reason: "\(stage.rawValue): still failing after \(journal.deferrals) deferrals; last: \(reason)")
                case .transient(let reason, let retryAfter):
                    let delay = retryAfter ?? Self.backoff(deferrals: journal.deferrals)
                    return .deferred(until: Date().addingTimeInterval(delay), reason: "\(stage.rawValue): \(reason)")
                }
            }
        }
        return .done
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
    private func forgetStagesWhoseOutputIsGone(_ journal: inout TaskJournal, work: WorkTree) {
        let exists = { (url: URL) in FileManager.default.fileExists(atPath: url.path) }
        var firstMissing: Stage?
        if journal.completed.contains(.prepare) && !exists(work.attachments) { firstMissing = .prepare }
        else if journal.completed.contains(.generate) && !journal.completed.contains(.publish) && !exists(work.tree) { firstMissing = .generate }
        if let firstMissing { journal.completed.removeAll { $0 >= firstMissing } }
    }

    private func perform(
        _ stage: Stage, request: TaskRequest, journal: inout TaskJournal, work: WorkTree, deadline: Deadline
    ) async throws {
        switch stage {
        case .prepare:
            try await attachments.store(request.attachments, in: work.attachments)
        case .generate:
            try await generate(request, journal: &journal, work: work, deadline: deadline, feedback: nil)
        case .scan:
            var findings = scanner.scan(try WorkTree.files(under: work.tree))
            // A model may have written a credential-shaped string: regenerate once, telling it why.
            if !findings.isEmpty && journal.outputs.generator != fallbackGenerator.name {
                let summary = findings.prefix(10).map(\.description).joined(separator: "; ")
                logger.warning("credentials in the generated tree; regenerating once", metadata: ["id": "\(journal.id)", "findings": "\(summary)"])
                try await generate(request, journal: &journal, work: work, deadline: deadline,
                                   feedback: "The previous answer was refused because it contained credential-like values at: \(summary). Do not include any keys, tokens or secrets.")
                findings = scanner.scan(try WorkTree.files(under: work.tree))
            }
            guard findings.isEmpty else {
                throw PipelineError.permanent("credentials found, push blocked: " + findings.prefix(10).map(\.description).joined(separator: "; "))
            }
        case .publish:
            let files = try WorkTree.files(under: work.tree)
            let firstLine = request.brief.split(separator: "\n").first.map { String($0.prefix(60)) } ?? ""
            let commit = try await forge.publish(Publication(
                repository: RepositoryName.forTask(request.task), files: files, id: journal.id, round: request.round,
                message: "Round \(request.round): \(firstLine)"))
            journal.outputs.repoURL = commit.repoURL
            journal.outputs.commitSHA = commit.commitSHA
            journal.outputs.pagesURL = commit.pagesURL
        case .pages:
            let expected = try? Data(contentsOf: work.tree.appendingPathComponent("index.html"))
            let budget = deadline.budget(reserving: Deadline.afterPages, minimum: 5)
            let repository = RepositoryName.forTask(request.task)
            let sha = journal.outputs.commitSHA ?? ""
            let forge = self.forge
            let verdict = await pages.waitUntilServed(journal.outputs.pagesURL ?? "", expected: expected, budget: budget) {
                await forge.deploymentState(repository: repository, commitSHA: sha)
            }
            journal.outputs.pagesVerified = verdict == .live
            switch verdict {
            case .live: break
            case .notYet:
                logger.warning("Pages not confirmed within the budget; notifying anyway", metadata: ["id": "\(journal.id)"])
            case .deploymentFailed(let reason):
                // The repository is published; the evaluator still gets its URLs on time.
                logger.error("the forge's Pages deployment failed; notifying anyway", metadata: ["id": "\(journal.id)", "reason": "\(reason)"])
            }
        case .notify:
            try await notify(request, journal: &journal)
        }
    }

    /// Runs the generator (falling back to the offline template when it fails) and writes the
    /// assembled tree to the work directory.
    private func generate(
        _ request: TaskRequest, journal: inout TaskJournal, work: WorkTree, deadline: Deadline, feedback: String?
    ) async throws {
        let received = try attachments.load(request.attachments, from: work.attachments)
        let repository = RepositoryName.forTask(request.task)
        let existing = request.round > 1 ? try await forge.existingFiles(repository: repository) : [:]
        let brief = GenerationBrief(request: request, attachments: received, existingFiles: existing, feedback: feedback)
        // A task already late still gets a real try at the LLM rather than the template.
        let budget = deadline.budget(reserving: Deadline.afterGeneration, minimum: 60)
        var chosen = generator
        var generated: [String: Data]
        journal.toolCalls = nil
        journal.outputs.generationMode = nil
        do {
            if let reporting = generator as? any ReportingGenerator {
                let report = try await reporting.generateReport(brief, budget: budget)
                generated = report.tree
                journal.outputs.generationMode = report.mode.rawValue
                journal.toolCalls = report.toolCalls.map {
                    TaskJournal.ToolCall(name: $0.name, arguments: $0.arguments, outcome: $0.outcome.rawValue,
                                         resultBytes: $0.resultBytes, seconds: $0.seconds, detail: $0.detail)
                }
            } else {
                generated = try await generator.generate(brief, budget: budget)
            }
        } catch {
            guard generator.name != fallbackGenerator.name else { throw error }
            logger.warning("generator failed; using the offline template", metadata: ["id": "\(journal.id)", "error": "\(error)"])
            chosen = fallbackGenerator
            generated = try await fallbackGenerator.generate(brief, budget: budget)
        }
        let tree = try documents.assemble(generated: generated, attachments: received, request: request)
        try WorkTree.write(tree, to: work.tree)
        journal.outputs.generator = chosen.name
    }

    /// Resends after 1, 2, 4 … s until a 200, journaling every attempt; past the in-process
    /// limit the task is deferred (freeing its slot), and past the horizon it fails.
    private func notify(_ request: TaskRequest, journal: inout TaskJournal) async throws {
        guard let repoURL = journal.outputs.repoURL, let sha = journal.outputs.commitSHA, let pagesURL = journal.outputs.pagesURL else {
            throw PipelineError.permanent("nothing was published to report")
        }
        let payload = NotificationPayload(
            email: request.email, task: request.task, round: request.round, nonce: request.nonce,
            repoURL: repoURL, commitSHA: sha, pagesURL: pagesURL)
        let horizon = (journal.retriedAt ?? journal.receivedAt).addingTimeInterval(configuration.notifyHorizon)
        var waited: TimeInterval = 0
        while true {
            var status: Int?
            var problem: String?
            do {
                status = try await notifier.deliver(payload, to: request.evaluationURL, timeout: 30)
            } catch {
                problem = error.description
            }
            journal.notifications.append(.init(at: .now, status: status, error: problem ?? (status == 200 ? nil : "HTTP \(status!)")))
            journal.updatedAt = .now
            try spool.writeJournal(journal)
            if status == 200 { return }
            let reason = problem ?? "the evaluator answered HTTP \(status!)"
            let delay = schedule.delay(afterAttempt: journal.notifications.count)
            if Date().addingTimeInterval(delay) > horizon {
                throw PipelineError.permanent("no 200 from the evaluator within the notify horizon after \(journal.notifications.count) attempts; last: \(reason)")
            }
            if waited + delay > schedule.inProcessLimit {
                throw PipelineError.transient(reason, retryAfter: delay)
            }
            try await Task.sleep(for: .seconds(delay))
            waited += delay
        }
    }
}
