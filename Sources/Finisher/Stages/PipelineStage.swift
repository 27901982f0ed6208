import Foundation
import Logging
import Spool

/// One step of the pipeline: given a claimed task, do one idempotent piece of work and record
/// its outputs in the task's journal. The engine runs the stages in order, journals each
/// completion, and defers or fails the task on a thrown `PipelineError`.
///
/// Adding a stage: a case in `Stage` (the journal's vocabulary, shared with the Handler's
/// status), one file here with the stage's type, and one line in `PipelineEngine.stages`.
/// (`notify` is the exception: `NotifyQueue` runs it, apart from the slots.)
protocol PipelineStage: Sendable {
    /// The journal's name for this stage.
    var stage: Stage { get }

    /// Does the stage's work. It may run again after a crash, so it must be idempotent.
    func run(_ task: inout TaskRun) async throws(PipelineError)

    /// Whether the stage, although journaled as completed, must run again because what it left
    /// in the work directory is gone while a later stage still needs it (data directory wiped).
    func mustRunAgain(_ task: TaskRun) -> Bool
}

extension PipelineStage {
    func mustRunAgain(_ task: TaskRun) -> Bool { false }
}

/// One task on its way through the stages: what was asked, what has been recorded, where its
/// files are and when it is due.
struct TaskRun: Sendable {
    let request: TaskRequest
    var journal: TaskJournal
    let work: WorkTree
    let deadline: Deadline
    let logger: Logger
    /// Saves the journal now, for a stage that must record progress before it completes (every
    /// notification attempt); the engine saves it after each stage anyway.
    let save: @Sendable (TaskJournal) throws -> Void

    /// The repository this round publishes to and what proves it is the task's own (decided
    /// by the engine before the first stage; the name is journaled).
    var claim: RepositoryClaim

    var repository: String { claim.name }
}
