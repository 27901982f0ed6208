import Foundation
import Spool

/// `repair`: when the site was not confirmed and the forge reports that the workflow run for the
/// pushed commit failed (a brief's CI that lints, runs a script and deploys Pages), the failed
/// job's log goes to the generator for one repair commit, scanned, published and waited for
/// within the deadline. Both runs are journaled (`outputs.workflow_runs`). A site that is live,
/// or a forge without workflows, passes straight through.
///
/// At most one repair per task round: the failed run is journaled before the repair starts, so
/// a Finisher that dies halfway does not repair twice.
struct WorkflowRepairStage: PipelineStage {
    let stage = Stage.repair
    let forge: any Forge
    let generation: GenerateStage
    let scan: ScanStage
    let pages: PagesStage
    /// Below this much time before the notification's reserve, no repair is started: a
    /// generation, a push and a workflow run take minutes.
    var minimumTime: TimeInterval = 180
    /// The most characters of the failed job's log given to the model (its end: the error).
    var maximumLogCharacters = 8_000

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        guard task.journal.outputs.pagesVerified != true, let sha = task.journal.outputs.commitSHA,
              !(task.journal.outputs.workflowRuns ?? []).contains(where: { $0.repair }) else { return }
        guard let failed = await forge.failedWorkflowRun(repository: task.repository, commitSHA: sha) else { return }
        var runs = task.journal.outputs.workflowRuns ?? []
        runs.append(.init(commitSHA: sha, conclusion: "failure", url: failed.url, job: failed.job, repair: false))
        task.journal.outputs.workflowRuns = runs
        let left = task.deadline.budget(reserving: Deadline.afterPages, minimum: 0)
        guard left >= minimumTime, generation.canRegenerate(task) else {
            task.logger.warning("the workflow run failed; no repair (too little time, or no model to ask)", metadata: [
                "run": "\(failed.url)", "seconds_left": .stringConvertible(Int(left)),
            ])
            return
        }
        task.logger.warning("the workflow run for the published commit failed; asking for one repair", metadata: [
            "run": "\(failed.url)", "job": "\(failed.job)",
        ])
        // Journaled before the repair: a rerun after a crash does not repair again.
        runs.append(.init(commitSHA: sha, conclusion: "repairing", repair: true))
        task.journal.outputs.workflowRuns = runs
        do {
            try task.save(task.journal)
        } catch {
            throw .transient("recording the failed workflow run: \(error)")
        }
        let published = (try? WorkTree.files(under: task.work.tree)) ?? [:]
        try await generation.generate(&task, feedback: Self.feedback(failed, limit: maximumLogCharacters, workflows: published))
        try await scan.run(&task)
        try await publishRepair(&task, job: failed.job)
        try await pages.run(&task)
        let repaired = task.journal.outputs.commitSHA ?? sha
        let conclusion = switch await forge.deploymentState(repository: task.repository, commitSHA: repaired) {
        case .succeeded: "success"
        case .failed: "failure"
        case .pending, nil: task.journal.outputs.pagesVerified == true ? "success" : "pending"
        }
        let url = conclusion == "failure" ? await forge.failedWorkflowRun(repository: task.repository, commitSHA: repaired)?.url : nil
        runs[runs.count - 1] = .init(commitSHA: repaired, conclusion: conclusion, url: url, repair: true)
        task.journal.outputs.workflowRuns = runs
    }

    /// The repair as its own commit: a task id derived from the round's, so that the forge's
    /// rerun check (this round's commit already on `main`) does not take the failed commit for it.
    private func publishRepair(_ task: inout TaskRun, job: String) async throws(PipelineError) {
        let files: [String: Data]
        do {
            files = try WorkTree.files(under: task.work.tree)
        } catch {
            throw .transient("reading the repaired tree: \(error)")
        }
        let request = task.request
        let id = TaskID(email: request.email, task: request.task, round: request.round, nonce: request.nonce + "#workflow-repair")
        let commit = try await forge.publish(Publication(
            claim: task.claim, files: files, id: id, round: request.round,
            message: CommitSubject.make(round: request.round, brief: "repair the failed workflow job \(job)")))
        task.journal.outputs.repoURL = commit.repoURL
        task.journal.outputs.commitSHA = commit.commitSHA
        task.journal.outputs.pagesURL = commit.pagesURL
        task.journal.outputs.pagesVerified = nil
    }

    /// What the model is told: which run and job failed, the end of the job's log, and the
    /// published workflow files (a round-1 model does not see the repository otherwise).
    static func feedback(_ failed: FailedWorkflowRun, limit: Int, workflows tree: [String: Data] = [:]) -> String {
        let log = failed.log.count > limit ? "[… earlier lines left out …]\n" + String(failed.log.suffix(limit)) : failed.log
        var text = "The GitHub Actions run \(failed.url) for the published commit failed in the job \"\(failed.job)\". The end of its log:\n\n"
            + GenerationPrompt.fenced(log, language: "text")
        for path in tree.keys.sorted() where path.hasPrefix(".github/workflows/") {
            guard let content = GenerationPrompt.text(of: tree[path]!), content.count <= 6_000 else { continue }
            text += "\nThe published \(path):\n\n" + GenerationPrompt.fenced(content, language: "yaml")
        }
        return text
            + "\nFix what made it fail (the workflow file, or the files it installs, lints, runs or uploads) so that every step "
            + "passes and the deployed site still has index.html; keep everything else as it was."
    }
}
