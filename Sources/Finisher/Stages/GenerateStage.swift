import Foundation
import SiteCheck
import Spool

/// `generate`: the generator's files (the offline template when it fails), assembled with the
/// attachments, LICENSE and README into the tree to publish, written to the work directory.
struct GenerateStage: PipelineStage {
    let stage = Stage.generate
    let generator: any Generator
    let fallback: any Generator
    let attachments: AttachmentLoader
    let documents: RepositoryDocuments
    /// The check stage's settings, for the tool loop's `run_checks`; `nil` when checks are off.
    var checks: CheckSettings? = nil
    /// Where earlier rounds' checks are found, for `run_checks` to run them too.
    var spool: SpoolDirectory? = nil

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        try await generate(&task, feedback: nil)
    }

    func mustRunAgain(_ task: TaskRun) -> Bool {
        !task.journal.completed.contains(.publish) && !task.work.exists(task.work.tree)
    }

    /// Whether the task's current tree came from the configured generator rather than the
    /// fallback, so that asking again with feedback can change it.
    func canRegenerate(_ task: TaskRun) -> Bool {
        task.journal.outputs.generator != fallback.name
    }

    /// Replaces the tree with the fallback's (the offline template), for a stage that refused
    /// the generator's tree for good but can still publish something and notify.
    func generateWithFallback(_ task: inout TaskRun) async throws(PipelineError) {
        let (brief, received) = try inputs(task, feedback: nil)
        try record(try await fallback.generate(brief, budget: 60), by: fallback, received: received, in: &task)
    }

    /// Generates the tree again, telling the generator why the last one was refused (later
    /// stages use this: the secret gate, the checks). A repair that must not replace a working
    /// tree with the offline template passes `fallbackOnFailure: false` and gets the error.
    /// `session` is the check stage's browser, which `run_checks` then shares.
    func generate(_ task: inout TaskRun, feedback: String?, fallbackOnFailure: Bool = true, session: CheckSession? = nil) async throws(PipelineError) {
        let (prepared, received) = try inputs(task, feedback: feedback)
        var brief = prepared
        let documents = documents, request = task.request
        brief.checkRunner = ToolCheckRunner(
            settings: checks, checks: task.request.checks, regression: CheckStage.earlierRoundsChecks(task.request, spool: spool),
            repository: task.repository, directory: task.work.root.appendingPathComponent("tool-checks"), shared: session
        ) { report throws(PipelineError) in try documents.assemble(report, attachments: received, request: request) }
        // A task already late still gets a real try at the LLM rather than the template.
        let budget = task.deadline.budget(reserving: Deadline.afterGeneration, minimum: 60)
        var chosen = generator
        let report: GenerationReport
        do {
            report = try await generator.generate(brief, budget: budget)
            await brief.checkRunner?.close()
        } catch {
            // The tool loop closes its browser when it ends; this covers a generator that threw first.
            await brief.checkRunner?.close()
            guard generator.name != fallback.name, fallbackOnFailure else { throw error }
            task.logger.warning("generator failed; using the offline template", metadata: ["error": "\(error)"])
            chosen = fallback
            report = try await fallback.generate(brief, budget: budget)
        }
        try record(report, by: chosen, received: received, in: &task)
    }

    /// The brief for this task, from what `prepare` left in the work directory.
    private func inputs(_ task: TaskRun, feedback: String?) throws(PipelineError) -> (GenerationBrief, [ReceivedAttachment]) {
        let received = try attachments.load(task.request.attachments, from: task.work.attachments)
        let existing: [String: Data]
        do {
            existing = try WorkTree.files(under: task.work.existing)
        } catch {
            throw .transient("reading the repository's current files: \(error)")
        }
        return (GenerationBrief(request: task.request, attachments: received, existingFiles: existing, feedback: feedback), received)
    }

    /// Assembles `report`'s tree with the documents, writes it as the tree to publish, and
    /// journals how it was made.
    private func record(_ report: GenerationReport, by chosen: any Generator, received: [ReceivedAttachment], in task: inout TaskRun) throws(PipelineError) {
        let tree = try documents.assemble(report, attachments: received, request: task.request)
        do {
            try WorkTree.write(tree, to: task.work.tree)
        } catch {
            throw .transient("writing the generated tree: \(error)")
        }
        task.journal.outputs.generator = chosen.name
        task.journal.outputs.generationMode = report.mode?.rawValue
        task.journal.outputs.replacedAttachments = report.replacedAttachments.isEmpty ? nil : report.replacedAttachments
        task.journal.toolCalls = report.mode == nil ? nil : report.toolCalls
        // The repository's LICENSE is always our MIT text; an attachment that brought another
        // one is overridden, and the journal says so rather than dropping it without a word.
        let overridden = received.filter { $0.name == "LICENSE" && $0.bytes != tree["LICENSE"] }.map(\.name)
        task.journal.outputs.replacedReservedFiles = overridden.isEmpty ? nil : overridden
        if !overridden.isEmpty {
            task.logger.warning("an attached LICENSE was replaced by the MIT licence the repository must carry")
        }
    }
}
