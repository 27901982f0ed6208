import Foundation
import Spool

/// One round's tree, ready to become one commit on `main`.
struct Publication: Sendable {
    var claim: RepositoryClaim
    var files: [String: Data]
    var id: TaskID
    var round: Int
    /// One clean line (see `CommitSubject`).
    var message: String

    var repository: String { claim.name }

    /// The message every forge commits: the subject, then the trailers that let a rerun
    /// recognise its own commit (`Llm-Deploy-Task`) and prove whose the repository is.
    var commitMessage: String {
        "\(message)\n\n\(LocalForge.trailer(id))\n\(claim.owner.trailer)\n"
    }
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

/// A workflow run of a pushed commit that failed: its page, the job that failed, and the end
/// of that job's log (where the error is), for one repair.
struct FailedWorkflowRun: Sendable, Equatable {
    var url: String
    var job: String
    var log: String
}

/// The `Forge` seam (docs/architecture.md, Seams): repositories, pushes and Pages.
protocol Forge: Sendable {
    /// The repository's current files on `main` (empty when it does not exist yet).
    func existingFiles(repository: String) async throws(PipelineError) -> [String: Data]

    /// The same, refusing a repository whose history is not the claim's owner's.
    func existingFiles(of claim: RepositoryClaim) async throws(PipelineError) -> [String: Data]

    /// Commits `publication.files` as the whole tree of `main` and publishes Pages. Idempotent:
    /// when `main` already carries this task round's commit (a rerun after a crash), it returns
    /// that commit instead of making another.
    func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit

    /// How the forge's deployment of `commitSHA` is going, when it builds the site itself (a
    /// Pages workflow); `nil` when the served page is the only signal.
    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState?

    /// The failed workflow run for `commitSHA`, with its failed job's log; `nil` when none
    /// failed, or the forge runs no workflows or cannot tell.
    func failedWorkflowRun(repository: String, commitSHA: String) async -> FailedWorkflowRun?
}

extension Forge {
    /// Without an ownership check of its own, the forge only reads (GitHub: see the README).
    func existingFiles(of claim: RepositoryClaim) async throws(PipelineError) -> [String: Data] {
        try await existingFiles(repository: claim.name)
    }

    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState? { nil }
    func failedWorkflowRun(repository: String, commitSHA: String) async -> FailedWorkflowRun? { nil }
}

/// Who a repository belongs to: one sender's one task. Every commit the service makes carries
/// the owner's key as a trailer, so a repository proves whose it is before anything is built on
/// it or pushed into it. The key is a digest: the repository is public, the sender's address not.
struct RepositoryOwner: Sendable, Equatable, CustomStringConvertible {
    /// 32 hex digits over (email, task), length-prefixed like a task ID (round 0 and a fixed
    /// label keep it apart from every real task ID).
    let key: String

    init(email: String, task: String) {
        key = TaskID(email: email, task: task, round: 0, nonce: "repository-owner").rawValue
    }

    /// The commit trailer naming this owner.
    var trailer: String { "\(Self.trailerKey): \(key)" }
    static let trailerKey = "Llm-Deploy-Owner"

    var description: String { key }
}

/// The repository a task round publishes to, and what proves the repository is its own: the
/// owner's trailer, or (for commits made before owners were recorded) the task trailer of one of
/// its own earlier rounds, found in their journals.
struct RepositoryClaim: Sendable, Equatable {
    var name: String
    var owner: RepositoryOwner
    var earlierRounds: Set<TaskID> = []

    /// Whether a commit with these trailer values is this owner's.
    func owns(ownerKeys: [String], taskIDs: [String]) -> Bool {
        if !ownerKeys.isEmpty { return ownerKeys.allSatisfy { $0 == owner.key } }
        return !taskIDs.isEmpty && taskIDs.allSatisfy { TaskID($0).map(earlierRounds.contains) ?? false }
    }
}

/// Repository names: deterministic, the same every round, valid on GitHub (at most 100
/// characters of `a-z0-9._-`), lower case because GitHub compares names without case, and
/// collision-free:
///
/// - one sender: a task already named that way (`weather-app`) keeps its name;
/// - any other task gets its cleaned, lower-cased name plus `-` and 12 hex digits of a digest of
///   the exact task (`Alice's app!` → `alice-s-app-3c0f…`, `Weather-App` → `weather-app-9d1e…`);
///   a task whose own name already ends like that is digested too, so no plain name can equal a
///   digested one;
/// - several senders (`LLM_DEPLOY_SECRETS_FILE` lets more than one party in): always the sender's
///   local part, the task, and a digest of both (`alice-weather-app-51b2…`), so two senders'
///   tasks of the same name never share a repository.
enum RepositoryName {
    static let digestLength = 12

    static func make(task: String, sender: String?) -> String {
        let stem = cleaned(task)
        if sender == nil, stem == task, !stem.isEmpty, stem.count <= 100, !stem.hasSuffix(".git"), !looksDigested(stem) {
            return stem
        }
        let digest = TaskID(email: sender ?? "", task: task, round: 0, nonce: "repository-name").rawValue.prefix(digestLength)
        var readable = stem.isEmpty ? "task" : stem
        if let sender {
            let local = cleaned(String(sender.prefix { $0 != "@" }))
            readable = (local.isEmpty ? "sender" : String(local.prefix(24))) + "-" + readable
        }
        readable = String(readable.prefix(100 - digestLength - 1))
        while readable.hasSuffix("-") || readable.hasSuffix(".") { readable.removeLast() }
        return "\(readable)-\(digest)"
    }

    /// Lower case, runs of anything but `a-z0-9._-` as one `-`, no `-` or `.` at either end.
    static func cleaned(_ text: String) -> String {
        var cleaned = ""
        for scalar in text.lowercased().unicodeScalars {
            let allowed = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
            if allowed { cleaned.unicodeScalars.append(scalar) } else if !cleaned.hasSuffix("-") { cleaned += "-" }
        }
        cleaned = String(cleaned.drop { $0 == "-" || $0 == "." })
        while cleaned.hasSuffix("-") || cleaned.hasSuffix(".") { cleaned.removeLast() }
        return cleaned
    }

    /// Whether `name` ends as a digested name does (`-` and 12 hex digits).
    static func looksDigested(_ name: String) -> Bool {
        let tail = name.suffix(digestLength + 1)
        return tail.count == digestLength + 1 && tail.first == "-" && tail.dropFirst().allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The repository named by a journaled `repo_url` (`…/git/NAME.git`, `https://github.com/OWNER/NAME`).
    static func fromURL(_ url: String) -> String? {
        var last = String(url.split(separator: "/").last ?? "")
        if last.hasSuffix(".git") { last.removeLast(4) }
        return last.isEmpty ? nil : last
    }
}
