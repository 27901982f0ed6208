import Foundation
import Spool

/// GitHub (or GitHub Enterprise, or the test emulator at `GITHUB_API_URL`): REST for
/// repositories and Pages, `git push` over HTTPS for commits.
///
/// The token travels only in request headers: for REST in `Authorization`, for git through
/// `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0` (`http.extraHeader`) in the child's
/// environment, so it is never in argv, a remote URL, `.git/config` or a log line.
struct GitHubForge: Forge {
    let api: GitHubAPI
    /// `GITHUB_OWNER`, or `nil` for the token's own user.
    let owner: String?
    let authorName: String
    let authorEmail: String

    func existingFiles(repository: String) async throws(PipelineError) -> [String: Data] {
        let owner = try await resolvedOwner()
        guard let repo = try await api.repository(owner: owner, name: repository) else { return [:] }
        let checkout = Self.scratch("read")
        defer { try? FileManager.default.removeItem(at: checkout) }
        guard try await remoteHead(repo.cloneURL) != nil else { return [:] }
        try await gitRun(nil, ["clone", "--quiet", "--depth", "1", "--branch", "main", repo.cloneURL, checkout.path])
        do {
            return try WorkTree.files(under: checkout)
        } catch {
            throw .transient("reading the checkout of \(repository): \(error)")
        }
    }

    func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit {
        let owner = try await resolvedOwner()
        let repo = try await api.ensureRepository(owner: owner, name: publication.repository, description: "llm-deploy: \(publication.message)")
        let sha = try await pushIfNeeded(publication, to: repo)
        let usesWorkflow = publication.files.contains { path, bytes in
            path.hasPrefix(".github/workflows/") && String(decoding: bytes, as: UTF8.self).contains("actions/deploy-pages")
        }
        let pages = try await api.enablePages(owner: owner, name: publication.repository, workflow: usesWorkflow)
        let pagesURL = pages ?? Self.defaultPagesURL(owner: owner, repository: publication.repository)
        return PublishedCommit(repoURL: repo.htmlURL, commitSHA: sha, pagesURL: pagesURL)
    }

    /// GitHub's own word on the deployment of `commitSHA`: for a workflow-built site the Actions
    /// run for the commit, for a branch-built site the latest Pages build (`built` for this commit).
    /// `nil` when GitHub cannot be asked; the served page stays the main signal either way.
    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState? {
        guard let owner = try? await resolvedOwner(),
            let (_, pages) = try? await api.call("GET", "/repos/\(owner)/\(repository)/pages", accept: [200, 404])
        else { return nil }
        if pages["build_type"] as? String == "workflow" {
            guard let (_, runs) = try? await api.call("GET", "/repos/\(owner)/\(repository)/actions/runs?head_sha=\(commitSHA)&event=push"),
                let list = runs["workflow_runs"] as? [[String: Any]], !list.isEmpty
            else { return .pending }
            if list.contains(where: { $0["status"] as? String == "completed" && $0["conclusion"] as? String == "success" }) {
                return .succeeded
            }
            if list.allSatisfy({ $0["status"] as? String == "completed" }) {
                let run = list[0]
                return .failed("the Pages workflow run \(run["html_url"] as? String ?? "") concluded \(run["conclusion"] as? String ?? "without success")")
            }
            return .pending
        }
        guard let (status, build) = try? await api.call("GET", "/repos/\(owner)/\(repository)/pages/builds/latest", accept: [200, 404]),
            status == 200
        else { return .pending }
        let built = (build["commit"] as? String) == commitSHA
        switch build["status"] as? String {
        case "built" where built: return .succeeded
        case "errored" where built:
            let message = (build["error"] as? [String: Any])?["message"] as? String ?? "no message"
            return .failed("the Pages build of \(commitSHA.prefix(12)) errored: \(message)")
        default: return .pending
        }
    }

    /// `https://OWNER.github.io/REPO/`, or the root site for the `OWNER.github.io` repository.
    static func defaultPagesURL(owner: String, repository: String) -> String {
        let host = "\(owner.lowercased()).github.io"
        return repository.lowercased() == host ? "https://\(host)/" : "https://\(host)/\(repository)/"
    }

    private func resolvedOwner() async throws(PipelineError) -> String {
        if let owner { return owner }
        return try await api.authenticatedLogin()
    }

    /// Commits and pushes unless `main` already carries this round's commit (a rerun).
    private func pushIfNeeded(_ publication: Publication, to repo: GitHubAPI.Repository) async throws(PipelineError) -> String {
        let checkout = Self.scratch("publish")
        defer { try? FileManager.default.removeItem(at: checkout) }
        if try await remoteHead(repo.cloneURL) != nil {
            try await gitRun(nil, ["clone", "--quiet", "--depth", "1", "--branch", "main", repo.cloneURL, checkout.path])
            let message = try await gitRun(checkout, ["log", "-1", "--format=%B"])
            if message.contains(LocalForge.trailer(publication.id)) {
                return try await gitRun(checkout, ["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        } else {
            try await gitRun(nil, ["init", "--quiet", "--initial-branch=main", checkout.path])
            try await gitRun(checkout, ["remote", "add", "origin", repo.cloneURL])
        }
        do {
            try WorkTree.replaceCheckout(checkout, with: publication.files)
        } catch {
            throw .transient("preparing the commit: \(error)")
        }
        try await gitRun(checkout, ["add", "--all"])
        try await gitRun(checkout, ["commit", "--quiet", "--allow-empty", "--no-verify", "-F", "-"], input: Data(publication.commitMessage.utf8))
        try await gitRun(checkout, ["push", "--quiet", "--porcelain", "origin", "HEAD:refs/heads/main"])
        return try await gitRun(checkout, ["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func remoteHead(_ url: String) async throws(PipelineError) -> String? {
        let output = try await gitRun(nil, ["ls-remote", url, "refs/heads/main"])
        return output.split(separator: "\t").first.map(String.init)
    }

    /// Runs git with the token in its environment only, mapping failures to what they mean.
    @discardableResult
    private func gitRun(_ directory: URL?, _ arguments: [String], input: Data? = nil) async throws(PipelineError) -> String {
        let credential = Data("x-access-token:\(api.token)".utf8).base64EncodedString()
        let git = Git(
            directory: directory,
            environment: [
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": "Authorization: Basic \(credential)",
            ],
            authorName: authorName, authorEmail: authorEmail)
        do {
            return try await git.run(arguments, input: input)
        } catch {
            let output = error.output.replacingOccurrences(of: api.token, with: "[token]").replacingOccurrences(of: credential, with: "[token]")
            if output.contains("without `workflow` scope") {
                throw .permanent("GitHub refused to push .github/workflows/: the token lacks the `workflow` scope; grant it or drop the workflow")
            }
            let refused = ["returned error: 401", "returned error: 403", "Authentication failed", "Invalid username or password"]
            if refused.contains(where: output.contains) || output.range(of: #"Permission to \S+ denied"#, options: .regularExpression) != nil {
                throw .permanent("git \(arguments[0]) was refused: check that GITHUB_TOKEN may push to this repository (\(output.suffix(200)))")
            }
            throw .transient("git \(arguments[0]) failed: \(output.suffix(300))")
        }
    }

    private static func scratch(_ label: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("llm-deploy-\(label)-\(UUID().uuidString)")
    }
}
