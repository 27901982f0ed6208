import Foundation
import Spool

/// `publish`: the tree becomes one commit on the repository's `main`, and Pages is set up.
struct PublishStage: PipelineStage {
    let stage = Stage.publish
    let forge: any Forge

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        let files: [String: Data]
        do {
            files = try WorkTree.files(under: task.work.tree)
        } catch {
            throw .transient("reading the generated tree: \(error)")
        }
        let request = task.request
        let firstLine = request.brief.split(separator: "\n").first.map { String($0.prefix(60)) } ?? ""
        let commit = try await forge.publish(Publication(
            repository: task.repository, files: files, id: task.journal.id, round: request.round,
            message: "Round \(request.round): \(firstLine)"))
        task.journal.outputs.repoURL = commit.repoURL
        task.journal.outputs.commitSHA = commit.commitSHA
        task.journal.outputs.pagesURL = commit.pagesURL
    }
}
