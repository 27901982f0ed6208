import Foundation
import Spool

/// The embedded default forge: bare repositories under `LLM_DEPLOY_DATA/git`, cloneable over
/// smart HTTP at `PUBLIC_URL/git/NAME.git` (nginx + fcgiwrap + git-http-backend), and each
/// push published to `LLM_DEPLOY_DATA/pages/NAME`, which nginx serves at `PUBLIC_URL/pages/NAME/`.
struct LocalForge: Forge {
    let dataRoot: URL
    let publicURL: String
    let authorName: String
    let authorEmail: String

    init(dataRoot: String, publicURL: String, authorName: String, authorEmail: String) {
        self.dataRoot = URL(fileURLWithPath: dataRoot)
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.authorName = authorName
        self.authorEmail = authorEmail
    }

    private func bare(_ repository: String) -> URL { dataRoot.appendingPathComponent("git/\(repository).git") }
    private var pagesRoot: URL { dataRoot.appendingPathComponent("pages") }
    private func git(_ directory: URL? = nil) -> Git { Git(directory: directory, authorName: authorName, authorEmail: authorEmail) }

    func existingFiles(of claim: RepositoryClaim) async throws(PipelineError) -> [String: Data] {
        do {
            try await verifyOwnership(claim)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw Self.classify(error, doing: "reading \(claim.name)")
        }
        return try await existingFiles(repository: claim.name)
    }

    func existingFiles(repository: String) async throws(PipelineError) -> [String: Data] {
        guard FileManager.default.fileExists(atPath: bare(repository).path), await head(repository) != nil else { return [:] }
        let checkout = FileManager.default.temporaryDirectory.appendingPathComponent("llm-deploy-read-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: checkout) }
        do {
            try await git().run(["clone", "--quiet", "--depth", "1", "--branch", "main", bare(repository).path, checkout.path])
            return try WorkTree.files(under: checkout)
        } catch {
            throw .transient("reading \(repository): \(error)")
        }
    }

    func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit {
        let name = publication.repository
        do {
            try await ensureRepository(name)
            let sha: String
            if let existing = await head(name), try await carriesTrailer(name, sha: existing, id: publication.id) {
                sha = existing
            } else {
                try await verifyOwnership(publication.claim)
                sha = try await commitAndPush(publication)
            }
            try deployPages(name, files: publication.files, sha: sha)
            return PublishedCommit(repoURL: "\(publicURL)/git/\(name).git", commitSHA: sha, pagesURL: "\(publicURL)/pages/\(name)/")
        } catch let error as PipelineError {
            throw error
        } catch {
            throw Self.classify(error, doing: "local forge")
        }
    }

    /// Refuses a repository that is not the claim's: every commit on `main` must carry the
    /// owner's trailer or, written before owners were recorded, the task trailer of one of the
    /// owner's earlier rounds. A commit of another sender or task, or one without any trailer
    /// (not made by this service), stops the round for good: nothing is read from or pushed into
    /// someone else's repository. An empty repository is ours to fill (only we create them here).
    private func verifyOwnership(_ claim: RepositoryClaim) async throws {
        guard FileManager.default.fileExists(atPath: bare(claim.name).path), await head(claim.name) != nil else { return }
        let format = "%H%x09%(trailers:key=\(RepositoryOwner.trailerKey),valueonly,separator=%x2C)%x09"
            + "%(trailers:key=Llm-Deploy-Task,valueonly,separator=%x2C)"
        let log = try await git(bare(claim.name)).run(["log", "--format=\(format)", "refs/heads/main"])
        for line in log.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            let values = { (field: String) in field.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if !claim.owns(ownerKeys: values(fields[1]), taskIDs: values(fields[2])) {
                throw PipelineError.permanent(
                    "repository \(claim.name) holds commit \(fields[0].prefix(12)) of another sender or task (or not made by llm-deploy); "
                        + "refusing to build on it or push into it. An operator may move data/git/\(claim.name).git aside and `retry` the task")
            }
        }
    }

    /// What a failure of local git or the file system means: running out of a resource may pass
    /// (transient); anything else git refuses on a local repository will be refused again the
    /// same way (permanent), so it fails the task now instead of two hours of deferrals.
    static func classify(_ error: any Error, doing what: String) -> PipelineError {
        guard let failure = error as? Git.Failure else { return .transient("\(what): \(error)") }
        let passing = [
            "No space left on device", "Disk quota exceeded", "Cannot allocate memory", "Out of memory",
            "Resource temporarily unavailable", "Too many open files", "Interrupted system call",
            ".lock': File exists", "cannot run git", "Input/output error",
        ]
        if failure.status > 128 || passing.contains(where: failure.output.contains) {
            return .transient("\(what): \(failure)")
        }
        return .permanent("\(what): \(failure)")
    }

    /// The trailer that marks a task round's commit, so a rerun recognises its own push.
    static func trailer(_ id: TaskID) -> String { "Llm-Deploy-Task: \(id.rawValue)" }

    private func ensureRepository(_ name: String) async throws {
        let target = bare(name)
        guard !FileManager.default.fileExists(atPath: target.path) else { return }
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Built aside and renamed into place, so a crash never leaves half a repository.
        let staging = target.deletingLastPathComponent().appendingPathComponent(".\(name).\(UUID().uuidString)")
        try await git().run(["init", "--quiet", "--bare", "--initial-branch=main", staging.path])
        try await git(staging).run(["config", "http.receivepack", "false"])
        try "llm-deploy task repository \(name)\n".write(to: staging.appendingPathComponent("description"), atomically: true, encoding: .utf8)
        if rename(staging.path, target.path) != 0 { try? FileManager.default.removeItem(at: staging) }
    }

    private func head(_ name: String) async -> String? {
        let output = try? await git(bare(name)).run(["rev-parse", "--verify", "--quiet", "refs/heads/main"])
        return output.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    private func carriesTrailer(_ name: String, sha: String, id: TaskID) async throws -> Bool {
        try await git(bare(name)).run(["log", "-1", "--format=%B", sha]).contains(Self.trailer(id))
    }

    private func commitAndPush(_ publication: Publication) async throws -> String {
        let checkout = FileManager.default.temporaryDirectory.appendingPathComponent("llm-deploy-publish-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: checkout) }
        let origin = bare(publication.repository).path
        if await head(publication.repository) != nil {
            try await git().run(["clone", "--quiet", "--depth", "1", "--branch", "main", origin, checkout.path])
        } else {
            try await git().run(["init", "--quiet", "--initial-branch=main", checkout.path])
            try await git(checkout).run(["remote", "add", "origin", origin])
        }
        try WorkTree.replaceCheckout(checkout, with: publication.files)
        let repo = git(checkout)
        try await repo.run(["add", "--all"])
        try await repo.run(["commit", "--quiet", "--allow-empty", "--no-verify", "-F", "-"], input: Data(publication.commitMessage.utf8))
        try await repo.run(["push", "--quiet", "origin", "HEAD:refs/heads/main"])
        return try await repo.run(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes the tree beside the live site, then swaps a symlink: readers see the old site or
    /// the new one, never a mixture. Versions live under `pages/.versions/NAME/`.
    private func deployPages(_ name: String, files: [String: Data], sha: String) throws {
        let versions = pagesRoot.appendingPathComponent(".versions/\(name)")
        try FileManager.default.createDirectory(at: versions, withIntermediateDirectories: true)
        let version = String(sha.prefix(12))
        let directory = versions.appendingPathComponent(version)
        if !FileManager.default.fileExists(atPath: directory.path) {
            let staging = versions.appendingPathComponent(".staging.\(UUID().uuidString)")
            try WorkTree.write(files, to: staging)
            try FileManager.default.moveItem(at: staging, to: directory)
        }
        let link = pagesRoot.appendingPathComponent(name)
        let newLink = pagesRoot.appendingPathComponent(".link.\(UUID().uuidString)")
        try FileManager.default.createSymbolicLink(atPath: newLink.path, withDestinationPath: ".versions/\(name)/\(version)")
        guard rename(newLink.path, link.path) == 0 else {
            try? FileManager.default.removeItem(at: newLink)
            throw PipelineError.transient("cannot publish pages for \(name): errno \(errno)")
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: versions.path)) ?? [] where entry != version {
            try? FileManager.default.removeItem(at: versions.appendingPathComponent(entry))
        }
    }
}
