import Foundation
import Spool

/// GitHub (or GitHub Enterprise, or the test emulator at `GITHUB_API_URL`): REST for
/// repositories and Pages, `git push` over HTTPS for commits.
///
/// The token travels only in request headers: for REST in `Authorization`, for git through
/// `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0` (`http.extraHeader`, Basic
/// `x-access-token:TOKEN`, the only form git over HTTPS takes) in the child's environment, so it
/// is never in argv, a remote URL, `.git/config` or a log line.
///
/// GitHub is not instant and not always kind: a new repository answers 404 for seconds, a new
/// branch is unknown to the Pages API for a moment, a Pages source change (PUT) builds nothing,
/// a workflow run that starts before Pages is enabled fails for good, Jekyll hides `_` files,
/// and a token may not be allowed to push workflows. Each is handled here (README: "GitHub").
struct GitHubForge: Forge {
    let api: GitHubAPI
    /// `GITHUB_OWNER`, or `nil` for the token's own user.
    let owner: String?
    let authorName: String
    let authorEmail: String

    func existingFiles(repository: String) async throws(PipelineError) -> [String: Data] {
        try await read(repository, verifying: nil)
    }

    /// The files of `main`, after checking that every commit on it is the claim's owner's.
    func existingFiles(of claim: RepositoryClaim) async throws(PipelineError) -> [String: Data] {
        try await read(claim.name, verifying: claim)
    }

    private func read(_ repository: String, verifying claim: RepositoryClaim?) async throws(PipelineError) -> [String: Data] {
        let owner = try await resolvedOwner()
        guard let repo = try await api.repository(owner: owner, name: repository) else { return [:] }
        let checkout = Self.scratch("read")
        defer { try? FileManager.default.removeItem(at: checkout) }
        guard try await remoteHead(repo.cloneURL) != nil else { return [:] }
        let depth = claim == nil ? ["--depth", "1"] : ["--filter=blob:none"]
        try await gitRun(nil, ["clone", "--quiet"] + depth + ["--branch", "main", repo.cloneURL, checkout.path])
        if let claim { try await verifyOwnership(claim, checkout: checkout, repo: repo) }
        do {
            return try WorkTree.files(under: checkout)
        } catch {
            throw .transient("reading the checkout of \(repository): \(error)")
        }
    }

    func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit {
        let owner = try await resolvedOwner()
        let (repo, created) = try await api.ensureRepository(owner: owner, name: publication.repository, description: "llm-deploy: \(publication.message)")
        var publication = publication
        var workflow = Self.pagesWorkflow(in: publication.files)
        var site: GitHubAPI.PagesSite?
        if workflow != nil {
            // Before the push: the run it starts fails for good if Pages is not enabled by then.
            site = try await api.configurePages(owner: owner, name: repo.name, workflow: true, existing: !created)
        }
        var outcome = try await pushIfNeeded(Self.prepared(publication, workflow: workflow), to: repo)
        if case .workflowsRefused(let reason) = outcome {
            // The token may not push workflows: publish the rest (branch-built), say why in the commit.
            publication.files = publication.files.filter { !$0.key.hasPrefix(".github/workflows/") }
            publication.message += "\n\n\(Self.withoutWorkflowsNote) \(reason)"
            workflow = nil
            outcome = try await pushIfNeeded(Self.prepared(publication, workflow: nil), to: repo)
        }
        guard case .committed(let sha, let pushedNow, let withoutWorkflows) = outcome else {
            throw .permanent("GitHub refused .github/workflows/ even after they were removed")
        }
        if withoutWorkflows { workflow = nil }  // a rerun finding the commit made without them
        if workflow == nil {
            site = try await api.configurePages(owner: owner, name: repo.name, workflow: false, existing: !created || site != nil)
            // A source change builds nothing, and a rerun pushed nothing: ask for the build.
            if site?.changed == true || (site?.created == false && !pushedNow) {
                await api.requestPagesBuild(owner: owner, name: repo.name)
            }
        }
        if let workflow {
            api.session.remember(workflow: workflow, for: repo.name)
            // A deploy workflow that a push does not start would leave the site unbuilt: start it.
            let triggers = WorkflowTriggers(String(decoding: publication.files[workflow] ?? Data(), as: UTF8.self))
            if !triggers.push && triggers.dispatch && pushedNow {
                let file = String(workflow.split(separator: "/").last ?? "")
                _ = try await api.call("POST", "/repos/\(owner)/\(repo.name)/actions/workflows/\(file)/dispatches", body: ["ref": "main"], accept: [204])
            } else if !triggers.push && !triggers.dispatch {
                api.session.remember(neverRuns: "its `on:` has neither push nor workflow_dispatch", for: repo.name)
            }
        }
        let pagesURL = site?.htmlURL ?? Self.defaultPagesURL(owner: owner, repository: repo.name)
        return PublishedCommit(repoURL: repo.htmlURL, commitSHA: sha, pagesURL: pagesURL)
    }

    /// GitHub's own word on the deployment of `commitSHA`: for a workflow-built site the run of
    /// the workflow that deploys Pages (not any CI run), for a branch-built site the latest Pages
    /// build. An `errored` build or a failed deploy run is retried (a new build, a re-run) and
    /// reported as `.retrying`. `nil` when GitHub cannot be asked or the budget is short: the
    /// served page stays the main signal either way.
    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState? {
        guard api.session.mayPoll, let owner = try? await resolvedOwner(),
            let buildType = try? await api.pagesBuildType(owner: owner, name: repository)
        else { return nil }
        if buildType == "workflow" {
            return await workflowState(owner: owner, repository: repository, commitSHA: commitSHA)
        }
        guard let (status, build) = try? await api.call("GET", "/repos/\(owner)/\(repository)/pages/builds/latest", accept: [200, 404]),
            status == 200
        else { return .pending }
        let ours = (build["commit"] as? String) == commitSHA
        switch build["status"] as? String {
        case "built" where ours: return .succeeded
        case "errored" where ours:
            let message = (build["error"] as? [String: Any])?["message"] as? String ?? "no message"
            await api.requestPagesBuild(owner: owner, name: repository)
            return .retrying("the Pages build of \(commitSHA.prefix(12)) errored (\(message)); a new build was requested")
        case "built", "errored":
            // The latest finished build is of another commit and nothing is building: ours was
            // never queued (a PUT, or a push GitHub had not seen yet). Ask for it.
            await api.requestPagesBuild(owner: owner, name: repository)
            return .pending
        default: return .pending
        }
    }

    /// The deploy workflow's run for the commit. A run that failed is re-run once (it may have
    /// started before Pages was enabled); a second failure is final.
    private func workflowState(owner: String, repository: String, commitSHA: String) async -> DeploymentState {
        let file = api.session.workflow(for: repository).map { String($0.split(separator: "/").last ?? "") }
        if let file, let never = api.session.neverRuns(repository) {
            return .failed("\(file) never runs for this push: \(never)")
        }
        let path = file.map { "/repos/\(owner)/\(repository)/actions/workflows/\($0)/runs?head_sha=\(commitSHA)&per_page=5" }
            ?? "/repos/\(owner)/\(repository)/actions/runs?head_sha=\(commitSHA)&event=push&per_page=20"
        guard let (_, runs) = try? await api.call("GET", path, accept: [200, 404]),
            let list = runs["workflow_runs"] as? [[String: Any]], !list.isEmpty
        else { return .pending }
        // Without the workflow's name (another process published), every run for the commit counts.
        let considered = file == nil ? list : [list.max { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) }!]
        if considered.allSatisfy({ $0["status"] as? String == "completed" && $0["conclusion"] as? String == "success" }) {
            return .succeeded
        }
        guard let failed = considered.first(where: { $0["status"] as? String == "completed" && $0["conclusion"] as? String != "success" })
        else { return .pending }
        let reason = "the Pages workflow run \(failed["html_url"] as? String ?? "") concluded \(failed["conclusion"] as? String ?? "without success")"
        if let id = failed["id"] as? Int, (failed["run_attempt"] as? Int ?? 1) < 2,
            (try? await api.call("POST", "/repos/\(owner)/\(repository)/actions/runs/\(id)/rerun", accept: [201])) != nil
        {
            return .retrying("\(reason); re-run requested")
        }
        return .failed(reason)
    }

    /// `https://OWNER.github.io/REPO/`, or the root site for the `OWNER.github.io` repository.
    static func defaultPagesURL(owner: String, repository: String) -> String {
        let host = "\(owner.lowercased()).github.io"
        return repository.lowercased() == host ? "https://\(host)/" : "https://\(host)/\(repository)/"
    }

    /// The workflow under `.github/workflows/` that deploys Pages (uses actions/deploy-pages).
    static func pagesWorkflow(in files: [String: Data]) -> String? {
        files.keys.sorted().first { path in
            path.hasPrefix(".github/workflows/") && (path.hasSuffix(".yml") || path.hasSuffix(".yaml"))
                && String(decoding: files[path]!, as: UTF8.self).contains("actions/deploy-pages")
        }
    }

    /// What starts a workflow, read from its `on:` (inline `on: push`, `on: [push, …]`, `on: {…}`,
    /// or a block with `push:` / `- push`). Enough to tell a push-triggered deploy from one
    /// that only runs on `workflow_dispatch`; not a YAML parser.
    struct WorkflowTriggers: Equatable {
        var push = false
        var dispatch = false

        init(_ text: String) {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("on:") || $0.hasPrefix("\"on\":") || $0.hasPrefix("'on':") }) else { return }
            var block = String(lines[start].drop { $0 != ":" }.dropFirst())
            for line in lines[(start + 1)...] {
                if !line.isEmpty && !line.hasPrefix(" ") && !line.hasPrefix("\t") { break }
                block += "\n" + line
            }
            let words = Set(block.split { !($0.isLetter || $0 == "_") }.map(String.init))
            push = words.contains("push")
            dispatch = words.contains("workflow_dispatch")
        }
    }

    /// A branch-built site goes through Jekyll, which drops `_` files and folders and processes
    /// front matter: an empty `.nojekyll` at the root publishes the files as they are.
    static func prepared(_ publication: Publication, workflow: String?) -> Publication {
        var publication = publication
        if workflow == nil && publication.files[".nojekyll"] == nil { publication.files[".nojekyll"] = Data() }
        return publication
    }

    private func resolvedOwner() async throws(PipelineError) -> String {
        if let owner { return owner }
        return try await api.authenticatedLogin()
    }

    /// Begins the commit-message paragraph that says why a round was published without workflows.
    static let withoutWorkflowsNote = "Published without .github/workflows/:"

    private enum PushOutcome {
        case committed(sha: String, pushedNow: Bool, withoutWorkflows: Bool)
        case workflowsRefused(String)
    }

    /// Commits and pushes unless `main` already carries this round's commit (a rerun). Refuses a
    /// repository whose `main` was not made for this task (another task's, or someone else's).
    private func pushIfNeeded(_ publication: Publication, to repo: GitHubAPI.Repository) async throws(PipelineError) -> PushOutcome {
        let checkout = Self.scratch("publish")
        defer { try? FileManager.default.removeItem(at: checkout) }
        if try await remoteHead(repo.cloneURL) != nil {
            // The whole history (without old blobs): every commit must be this owner's.
            try await gitRun(nil, ["clone", "--quiet", "--filter=blob:none", "--branch", "main", repo.cloneURL, checkout.path])
            let message = try await gitRun(checkout, ["log", "-1", "--format=%B"])
            if message.contains(LocalForge.trailer(publication.id)) {
                let sha = try await gitRun(checkout, ["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
                return .committed(sha: sha, pushedNow: false, withoutWorkflows: message.contains(Self.withoutWorkflowsNote))
            }
            try await verifyOwnership(publication.claim, checkout: checkout, repo: repo)
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
        do {
            _ = try await gitRunAllowingRefusal(checkout, ["push", "--quiet", "--porcelain", "origin", "HEAD:refs/heads/main"], input: nil)
        } catch let refusal as GitRefusal {
            return .workflowsRefused(refusal.reason)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw .transient("\(error)")
        }
        let sha = try await gitRun(checkout, ["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return .committed(sha: sha, pushedNow: true, withoutWorkflows: publication.message.contains(Self.withoutWorkflowsNote))
    }

    /// Refuses a repository whose history is not the claim's owner's: another sender's or task's
    /// (GitHub names compare without case, so "Demo" and "demo" meet), or not made by this service.
    private func verifyOwnership(_ claim: RepositoryClaim, checkout: URL, repo: GitHubAPI.Repository) async throws(PipelineError) {
        let log = try await gitRun(checkout, ["log", "--format=\(RepositoryClaim.logFormat)", "HEAD"])
        if let commit = claim.foreignCommit(inLog: log) {
            throw .permanent(
                "\(repo.htmlURL) already exists and holds commit \(commit.prefix(12)), which is not this task's "
                    + "(another sender or task, or not made by llm-deploy; GitHub names compare without case: \(repo.name) vs \(claim.name)); "
                    + "rename or delete it, or use another GITHUB_OWNER")
        }
    }

    /// `main`'s tip, or `nil` for an empty repository. Right after creation GitHub answers
    /// "Repository not found" for a moment: that is waited out within the lag window.
    private func remoteHead(_ url: String) async throws(PipelineError) -> String? {
        var lastError: PipelineError?
        let output = try await GitHubAPI.retrying(for: GitHubAPI.lagWindow) { () throws(PipelineError) -> String? in
            do throws(PipelineError) {
                return try await gitRun(nil, ["ls-remote", url, "refs/heads/main"])
            } catch {
                guard error.isTransient, error.description.contains("not found") else { throw error }
                lastError = error
                return nil
            }
        }
        guard let output else { throw lastError ?? .transient("git ls-remote \(url) kept failing") }
        return output.split(separator: "\t").first.map(String.init)
    }

    /// Raised by a push GitHub refused because of `.github/workflows/` (token scope or permission).
    private struct GitRefusal: Error { var reason: String }

    /// Runs git with the token in its environment only, mapping failures to what they mean.
    @discardableResult
    private func gitRun(_ directory: URL?, _ arguments: [String], input: Data? = nil) async throws(PipelineError) -> String {
        do {
            return try await gitRunAllowingRefusal(directory, arguments, input: input)
        } catch let refusal as GitRefusal {
            throw .permanent("GitHub refused to push .github/workflows/: \(refusal.reason)")
        } catch let error as PipelineError {
            throw error
        } catch {
            throw .transient("\(error)")
        }
    }

    private func gitRunAllowingRefusal(_ directory: URL?, _ arguments: [String], input: Data?) async throws -> String {
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
            // A classic token lacks the `workflow` scope; an App or fine-grained token the
            // `workflows` permission. Either way the rest of the site can still be published.
            if output.contains("without `workflow` scope") {
                throw GitRefusal(reason: "the token lacks the `workflow` scope (grant it to deploy with the workflow)")
            }
            if output.contains("without `workflows` permission") {
                throw GitRefusal(reason: "the GitHub App or fine-grained token lacks the `workflows` permission (grant it to deploy with the workflow)")
            }
            let refused = ["returned error: 401", "returned error: 403", "Authentication failed", "Invalid username or password"]
            if refused.contains(where: output.contains) || output.range(of: #"Permission to \S+ denied"#, options: .regularExpression) != nil {
                throw PipelineError.permanent("git \(arguments[0]) was refused: check that GITHUB_TOKEN may push to this repository (\(output.suffix(200)))")
            }
            throw PipelineError.transient("git \(arguments[0]) failed: \(output.suffix(300))")
        }
    }

    private static func scratch(_ label: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("llm-deploy-\(label)-\(UUID().uuidString)")
    }
}
