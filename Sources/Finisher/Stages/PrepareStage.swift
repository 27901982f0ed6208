import Foundation
import Spool

/// `prepare`: every attachment decoded or fetched into the work directory, and in round ≥ 2 the
/// repository's current files beside them, so later stages (and reruns) need neither the
/// network nor the forge for their inputs.
struct PrepareStage: PipelineStage {
    let stage = Stage.prepare
    let attachments: AttachmentLoader
    let forge: any Forge

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        try await attachments.store(task.request.attachments, in: task.work.attachments)
        let existing = task.request.round > 1 ? try await forge.existingFiles(of: task.claim) : [:]
        do {
            try WorkTree.write(existing, to: task.work.existing)
        } catch {
            throw .transient("storing the repository's current files: \(error)")
        }
    }

    func mustRunAgain(_ task: TaskRun) -> Bool {
        !task.journal.completed.contains(.publish)
            && !(task.work.exists(task.work.attachments) && task.work.exists(task.work.existing))
    }
}
