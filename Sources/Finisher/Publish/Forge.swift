import Foundation
import Spool

/// One round's tree, ready to become one commit on `main`.
struct Publication: Sendable {
    var repository: String
    var files: [String: Data]
    var id: TaskID
    var round: Int
    var message: String
}

/// Where a round landed.
struct PublishedCommit: Sendable, Equatable {
    var repoURL: String
    var commitSHA: String
    var pagesURL: String
}

/// Where a forge's own Pages deployment of a commit stands (a second signal beside the page).
enum DeploymentState: Sendable, Equatable {
    case pending
    case succeeded
    case failed(String)
}

/// The `Forge` seam (docs/architecture.md, Seams): repositories, pushes and Pages.
protocol Forge: Sendable {
    /// The repository's current files on `main` (empty when it does not exist yet).
    func existingFiles(repository: String) async throws(PipelineError) -> [String: Data]

    /// Commits `publication.files` as the whole tree of `main` and publishes Pages. Idempotent:
    /// when `main` already carries this task round's commit (a rerun after a crash), it returns
    /// that commit instead of making another.
    func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit

    /// How the forge's deployment of `commitSHA` is going, when it builds the site itself (a
    /// Pages workflow); `nil` when the served page is the only signal.
    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState?
}

extension Forge {
    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState? { nil }
}

/// The repository name for a task: deterministic, the same every round, valid on GitHub (at
/// most 100 characters of `A-Za-z0-9._-`). A task whose name had to change gets a short hash
/// of the original, so two tasks that clean up alike never share a repository.
enum RepositoryName {
    static func forTask(_ task: String) -> String {
        var cleaned = ""
        for scalar in task.unicodeScalars {
            let allowed = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
            if allowed { cleaned.unicodeScalars.append(scalar) } else if !cleaned.hasSuffix("-") { cleaned += "-" }
        }
        cleaned = String(cleaned.drop { $0 == "-" || $0 == "." })
        while cleaned.hasSuffix("-") || cleaned.hasSuffix(".") { cleaned.removeLast() }
        if cleaned == task && !cleaned.isEmpty && cleaned.count <= 100 && !cleaned.lowercased().hasSuffix(".git") {
            return cleaned
        }
        let digest = TaskID(email: "", task: task, round: 0, nonce: "").rawValue.prefix(8)
        let stem = cleaned.isEmpty ? "task" : String(cleaned.prefix(90))
        return "\(stem)-\(digest)"
    }
}
