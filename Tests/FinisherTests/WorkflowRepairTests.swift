import Fetch
import Foundation
import Spool
import Synchronization
import Testing
import TestSupport
@testable import Finisher

/// The `repair` stage with the engine and in-process seams (as the other engine tests): a
/// forge whose workflow run fails for the first commit and passes for the next, a scripted
/// generator, and a real loopback page for the Pages check.
@Suite(.serialized) struct WorkflowRepairTests {
    typealias E = EngineFixtures

    static let workflow = Data("on: push\njobs:\n  build:\n    steps:\n      - run: ruff check .\n".utf8)

    /// Fails the run of the first commit published (with a job log), passes every later one.
    final class WorkflowForge: Forge {
        let pagesURL: String
        private let published = Mutex<[Publication]>([])
        var publications: [Publication] { published.withLock { $0 } }
        static let log = (1...400).map { "2026-01-01T00:00:\($0)Z step \($0) ok" }.joined(separator: "\n")
            + "\nexecute.py:3:1: F401 `os` imported but unused\nError: Process completed with exit code 1.\n"

        init(pagesURL: String) { self.pagesURL = pagesURL }

        static func sha(_ index: Int) -> String { String(repeating: String(index), count: 40) }

        func existingFiles(repository: String) async throws(PipelineError) -> [String: Data] { [:] }

        func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit {
            let count = published.withLock { $0.append(publication); return $0.count }
            return PublishedCommit(repoURL: "http://forge.test/r", commitSHA: Self.sha(count), pagesURL: pagesURL)
        }

        func deploymentState(repository: String, commitSHA: String) async -> DeploymentState? {
            commitSHA == Self.sha(1) ? .failed("the run concluded failure") : .succeeded
        }

        func failedWorkflowRun(repository: String, commitSHA: String) async -> FailedWorkflowRun? {
            commitSHA == Self.sha(1) ? FailedWorkflowRun(url: "http://forge.test/r/actions/runs/7", job: "build", log: Self.log) : nil
        }
    }

    static func stages(_ generator: any Generator, _ forge: any Forge) -> [any PipelineStage] {
        PipelineEngine.stages(
            generator: generator, fallback: TemplateGenerator(), forge: forge,
            scanner: SecretScanner(configuredSecrets: []), pages: PagesVerifier(client: WebClient()),
            attachments: AttachmentLoader(fetcher: URLFetcher(policy: FetchGuard(allowlist: .none))),
            documents: RepositoryDocuments(licenseHolder: "test", year: 2026))
    }

    /// The repair stage alone, run on `journal` with `deadline`.
    static func run(_ stages: [any PipelineStage], _ fixture: E, journal: TaskJournal, deadline: Deadline) async throws -> TaskRun {
        let repair = try #require(stages.compactMap { $0 as? WorkflowRepairStage }.first)
        var task = TaskRun(
            request: fixture.request, journal: journal, work: WorkTree(dataRoot: fixture.data, id: journal.id),
            deadline: deadline, logger: .init(label: "t"), save: { _ in },
            claim: RepositoryClaim(name: "r", owner: RepositoryOwner(email: fixture.request.email, task: fixture.request.task)))
        try await repair.run(&task)
        return task
    }

    @Test func aFailedRunLeadsToOneRepairCommitWhoseRunSucceeds() async throws {
        let fixture = try E()
        let site = try FixtureServer(files: ["index.html": "<h1>site</h1>"])
        defer { site.stop() }
        let forge = WorkflowForge(pagesURL: "\(site.url)/index.html")
        let generator = ScriptedGenerator(name: "model", answers: [
            .success(["index.html": Data("<h1>v1</h1>".utf8), ".github/workflows/ci.yml": Self.workflow]),
            .success(["index.html": Data("<h1>v2</h1>".utf8), ".github/workflows/ci.yml": Self.workflow, "execute.py": Data("print(1)\n".utf8)]),
        ])
        var journal = fixture.journal()
        #expect(await fixture.engine(Self.stages(generator, forge)).run(fixture.request, journal: &journal) == .published)

        // Two commits: the first, and one repair made with the failed job's log.
        #expect(forge.publications.count == 2)
        #expect(forge.publications[1].message.hasPrefix("Round 1: repair the failed workflow job build"))
        #expect(forge.publications[1].id != forge.publications[0].id)
        #expect(forge.publications[1].files["execute.py"] == Data("print(1)\n".utf8))
        let feedback = try #require(generator.feedback.last ?? nil)
        #expect(feedback.contains("http://forge.test/r/actions/runs/7") && feedback.contains("job \"build\""))
        #expect(feedback.contains("F401 `os` imported but unused") && feedback.contains("earlier lines left out"))
        #expect(feedback.contains("The published .github/workflows/ci.yml:\n\n```yaml\n" + String(decoding: Self.workflow, as: UTF8.self)))
        #expect(generator.feedback.count == 2)

        // Both runs journaled; what the notification will name is the repaired commit.
        #expect(journal.outputs.workflowRuns == [
            .init(commitSHA: WorkflowForge.sha(1), conclusion: "failure", url: "http://forge.test/r/actions/runs/7", job: "build", repair: false),
            .init(commitSHA: WorkflowForge.sha(2), conclusion: "success", repair: true),
        ])
        #expect(journal.outputs.commitSHA == WorkflowForge.sha(2) && journal.outputs.pagesVerified == true)
        #expect(journal.completed == E.generation)

        // A rerun of the stage (a crash after it) does not repair twice.
        var rerun = journal
        rerun.outputs.pagesVerified = false
        _ = try await Self.run(Self.stages(generator, forge), fixture, journal: rerun, deadline: Deadline(receivedAt: .now, total: 600))
        #expect(forge.publications.count == 2)
    }

    @Test func withoutTimeLeftTheFailedRunIsOnlyRecorded() async throws {
        let fixture = try E()
        let forge = WorkflowForge(pagesURL: "http://127.0.0.1:9/")
        let generator = ScriptedGenerator(name: "model", answers: [.success(["index.html": Data("<h1>v1</h1>".utf8)])])
        var journal = fixture.journal()
        journal.outputs.commitSHA = WorkflowForge.sha(1)
        let task = try await Self.run(
            Self.stages(generator, forge), fixture, journal: journal, deadline: Deadline(receivedAt: Date().addingTimeInterval(-500), total: 600))
        #expect(forge.publications.isEmpty && generator.feedback.isEmpty)
        #expect(task.journal.outputs.workflowRuns?.map(\.conclusion) == ["failure"])
    }
}
