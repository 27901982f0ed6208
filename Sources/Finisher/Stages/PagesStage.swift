import Foundation
import Spool

/// `pages`: waits, within the deadline, until the Pages site serves the new commit. A site that
/// is late is reported anyway: the evaluator gets its URLs on time either way.
struct PagesStage: PipelineStage {
    let stage = Stage.pages
    let forge: any Forge
    let verifier: PagesVerifier

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        let expected = try? Data(contentsOf: task.work.tree.appendingPathComponent("index.html"))
        let budget = task.deadline.budget(reserving: Deadline.afterPages, minimum: 5)
        let repository = task.repository
        let sha = task.journal.outputs.commitSHA ?? ""
        let forge = self.forge
        let verdict = await verifier.waitUntilServed(task.journal.outputs.pagesURL ?? "", expected: expected, budget: budget) {
            await forge.deploymentState(repository: repository, commitSHA: sha)
        }
        task.journal.outputs.pagesVerified = verdict == .live
        switch verdict {
        case .live: break
        case .notYet:
            task.logger.warning("Pages not confirmed within the budget; notifying anyway")
        case .deploymentFailed(let reason):
            task.logger.error("the forge's Pages deployment failed; notifying anyway", metadata: ["reason": "\(reason)"])
        }
    }
}
