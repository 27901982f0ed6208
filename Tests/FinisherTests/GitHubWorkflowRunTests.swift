import Fetch
import Foundation
import Testing
import TestSupport
@testable import Finisher

/// `GitHubForge.failedWorkflowRun` against a loopback server laid out as GitHub's REST API
/// answers (runs for a commit, the run's jobs, the job log's 302 to storage that needs no token).
struct GitHubWorkflowRunTests {
    @Test func theFailedJobsLogIsFetchedWithoutSendingTheTokenToStorage() async throws {
        let token = "ghp_" + String(repeating: "t", count: 36)
        let log = (1...50).map { "line \($0)" }.joined(separator: "\n") + "\nError: Process completed with exit code 1.\n"
        let runs = #"{"total_count": 2, "workflow_runs": [{"id": 6, "status": "completed", "conclusion": "success", "html_url": "https://github.com/octo/r/actions/runs/6"}, {"id": 7, "status": "completed", "conclusion": "failure", "html_url": "https://github.com/octo/r/actions/runs/7"}]}"#
        let jobs = #"{"total_count": 2, "jobs": [{"id": 8, "name": "lint", "conclusion": "success"}, {"id": 9, "name": "build", "conclusion": "failure", "steps": [{"name": "Set up Python", "conclusion": "success"}, {"name": "Run execute.py", "conclusion": "failure"}]}]}"#
        var server: FixtureServer? = try FixtureServer(files: [
            "repos/octo/r/actions/runs/index.json": runs, "repos/octo/r/actions/runs/7/jobs": jobs, "storage/log-9.txt": log,
        ])
        defer { server?.stop() }
        let fixture = try #require(server)
        try Data("\(fixture.url)/storage/log-9.txt".utf8).write(to: URL(fileURLWithPath: "\(fixture.root)/repos/octo/r/actions/jobs/9/logs.redirect").creatingDirectory())
        let forge = GitHubForge(api: GitHubAPI(baseURL: fixture.url, token: token, client: WebClient()), owner: "octo",
                                authorName: "llm-deploy", authorEmail: "bot@example.com")

        let failed = try #require(await forge.failedWorkflowRun(repository: "r", commitSHA: String(repeating: "a", count: 40)))
        #expect(failed.url == "https://github.com/octo/r/actions/runs/7")
        #expect(failed.job == "build")
        #expect(failed.log == "Failed step: Run execute.py\n" + log)

        let requests = try fixture.requests()
        #expect(requests.map { ($0["path"] as? String ?? "").split(separator: "?").first.map(String.init) } == [
            "/repos/octo/r/actions/runs", "/repos/octo/r/actions/runs/7/jobs", "/repos/octo/r/actions/jobs/9/logs", "/storage/log-9.txt",
        ])
        #expect((requests[0]["path"] as? String)?.contains("head_sha=\(String(repeating: "a", count: 40))") == true)
        func authorization(_ index: Int) -> String? {
            (requests[index]["headers"] as? [String: String])?.first { $0.key.lowercased() == "authorization" }?.value
        }
        #expect(authorization(2) == "Bearer \(token)")
        #expect(authorization(3) == nil, "the token never goes to the log's storage host")
        server = nil
    }
}

private extension URL {
    /// The URL, after creating its parent directory.
    func creatingDirectory() throws -> URL {
        try FileManager.default.createDirectory(at: deletingLastPathComponent(), withIntermediateDirectories: true)
        return self
    }
}
