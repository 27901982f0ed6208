import Foundation
import Testing
import TestSupport

/// The `repair` stage against the GitHub emulator: a committed workflow whose run fails (its
/// step exits 1), the failed job's log fetched through the Actions API and shown to the scripted
/// model, one repair commit, its run deploying the site.
@Suite(.serialized) struct WorkflowRepairEndToEndTests {
    /// A Pages workflow with a check step running `check`: the emulator fails a step whose
    /// script holds `exit N` (N > 0), as a runner would.
    static func workflow(check: String) -> String {
        """
        name: Deploy Pages
        on: { push: { branches: [main] } }
        permissions: { contents: read, pages: write, id-token: write }
        jobs:
          deploy:
            name: Check and deploy
            runs-on: ubuntu-latest
            environment: { name: github-pages }
            steps:
              - uses: actions/checkout@v4
              - name: Check the data
                run: |
                  echo "checking data.csv"
                  \(check)
              - uses: actions/upload-pages-artifact@v3
                with: { path: . }
              - uses: actions/deploy-pages@v4

        """
    }

    @Test func aFailedRunLeadsToOneRepairCommitWhoseRunDeploysTheSite() throws {
        let answers = [
            try GitHubWorkflowTests.modelAnswer("broken", workflows: [".github/workflows/pages.yml": Self.workflow(check: "exit 1")]),
            try GitHubWorkflowTests.modelAnswer("repaired", workflows: [".github/workflows/pages.yml": Self.workflow(check: "test -n checked")]),
        ]
        try GitHubWorkflowTests.withModelAndGitHub(scopes: "repo,workflow", answers: answers) { stack, github, evaluator, model, root in
            let id = try stack.submit(["task": "ci-repair", "nonce": "rp", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"], timeout: 25)
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")

            // Two commits on main: the failed one, then the repair on top of it.
            let bare = "\(root)/repos/octo/ci-repair.git"
            let repaired = try stack.git(["rev-parse", "main"], in: bare)
            let failed = try stack.git(["rev-parse", "main^"], in: bare)
            #expect(try stack.git(["rev-list", "--count", "main"], in: bare) == "2")
            #expect(try stack.git(["show", "\(failed):.github/workflows/pages.yml"], in: bare).contains("exit 1"))
            #expect(!(try stack.git(["show", "main:.github/workflows/pages.yml"], in: bare)).contains("exit 1"))

            // The emulator ran the failed commit's workflow (and the forge's one re-run) to a
            // failure, the repair's to a success that deployed the page.
            let runs = try GitHubForgeTests.runs(github)
            let first = try #require(runs.first { $0["head_sha"] as? String == failed }, "\(runs)")
            let second = try #require(runs.first { $0["head_sha"] as? String == repaired }, "\(runs)")
            #expect(first["conclusion"] as? String == "failure" && second["conclusion"] as? String == "success", "\(runs)")
            #expect(runs.count == 2, "\(runs)")
            #expect(try GitHubWorkflowTests.page(github, "/pages/octo/ci-repair/").text.contains("<title>repaired</title>"))

            // The model's second request carried the failed job's log: its step and its error.
            let asked = try model.requests().filter { ($0["path"] as? String)?.hasSuffix("/chat/completions") == true }
            #expect(asked.count == 2)
            let repairRequest = String(describing: asked.last?["body"] ?? "")
            #expect(repairRequest.contains("Failed step: Check the data"), "\(repairRequest.prefix(3000))")
            #expect(repairRequest.contains("Process completed with exit code 1."))
            #expect(repairRequest.contains("Check and deploy"), "the failed job is named")
            #expect(!repairRequest.contains(stack.secret))

            // The log came by GitHub's 302 to a signed storage URL, fetched without the token.
            let requests = try github.requests(path: "/_emulator/requests")
            let logs = requests.filter { ($0["path"] as? String)?.contains("/actions/jobs/") == true }
            #expect(logs.count == 1 && logs.first?["status"] as? Int == 302, "\(logs)")
            let downloads = requests.filter { ($0["path"] as? String)?.hasPrefix("/actions-results/") == true }
            #expect(downloads.count == 1 && downloads.first?["status"] as? Int == 200, "\(downloads)")
            let headers = (downloads.first?["headers"] as? [[String]]) ?? []
            #expect(!headers.isEmpty && !headers.contains { $0.first?.lowercased() == "authorization" })

            // The sender is told about the repaired commit, once; the journal records both runs.
            let notified = try evaluator.requests().compactMap { $0["json"] as? [String: Any] }.filter { $0["nonce"] as? String == "rp" }
            #expect(notified.count == 1 && notified.first?["commit_sha"] as? String == repaired, "\(notified)")
            let outputs = try #require(try stack.journal(id)["outputs"] as? [String: Any])
            #expect(outputs["pages_verified"] as? Bool == true && outputs["commit_sha"] as? String == repaired)
            let journaled = try #require(outputs["workflow_runs"] as? [[String: Any]])
            #expect(journaled.count == 2, "\(journaled)")
            #expect(journaled.first?["commit_sha"] as? String == failed && journaled.first?["conclusion"] as? String == "failure")
            #expect(journaled.first?["repair"] as? Bool == false && journaled.first?["job"] as? String == "Check and deploy")
            #expect((journaled.first?["url"] as? String)?.hasPrefix("\(github.url)/octo/ci-repair/actions/runs/") == true)
            #expect(journaled.last?["commit_sha"] as? String == repaired && journaled.last?["conclusion"] as? String == "success")
            #expect(journaled.last?["repair"] as? Bool == true)
        }
    }

    /// The emulator's jobs and job-log endpoints on their own, pushed to with real git: a step
    /// that exits 1 fails its job (a job that `needs:` it is skipped), the log names the error,
    /// and each request GitHub or its log storage would refuse is refused.
    @Test func theEmulatorFailsAJobFromItsContentAndGuardsItsLog() throws {
        let token = GitHubForgeTests.makeToken()
        let root = Paths.temporaryDirectory("github-jobs")
        let github = try Peer("github_emulator.py", ["--root", root, "--token", "\(token):octo"] + GitHubForgeTests.timeScale)
        let api = ["Authorization": "Bearer \(token)", "User-Agent": "test", "Accept": "application/vnd.github+json"]
        func get(_ path: String, _ headers: [String: String] = api) throws -> HTTPResponse {
            try HTTPClient.send(port: github.port, method: "GET", path: path, headers: headers)
        }
        let created = try HTTPClient.send(port: github.port, path: "/user/repos", headers: api.merging(["Content-Type": "application/json"]) { $1 },
                                          body: Data(#"{"name": "jobs"}"#.utf8))
        #expect(created.status == 201)
        let workflow = """
            name: CI
            on: push
            jobs:
              lint:
                name: Lint
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - name: Lint the script
                    run: |
                      ruff check .
                      exit 1
                  - run: echo never
              deploy:
                needs: [lint]
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/deploy-pages@v4

            """
        let work = "\(root)/work"
        let environment = ["PATH": "/usr/bin:/bin", "HOME": root, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"]
        func git(_ arguments: [String]) throws {
            _ = try commandOutput("/usr/bin/git", ["-C", work, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments, environment: environment)
        }
        try FileManager.default.createDirectory(atPath: "\(work)/.github/workflows", withIntermediateDirectories: true)
        try workflow.write(toFile: "\(work)/.github/workflows/ci.yml", atomically: true, encoding: .utf8)
        try git(["init", "--quiet", "-b", "main"])
        try git(["add", "."])
        try git(["commit", "--quiet", "-m", "ci"])
        let basic = Data("x-access-token:\(token)".utf8).base64EncodedString()
        #expect(eventually(timeout: 10) {
            (try? git(["-c", "http.extraHeader=Authorization: Basic \(basic)", "push", "--quiet", "\(github.url)/octo/jobs.git", "main"])) != nil
        })

        var runs: [[String: Any]] = []
        #expect(eventually(timeout: 10) {
            runs = (try? GitHubForgeTests.runs(github)) ?? []
            return runs.first?["status"] as? String == "completed"
        })
        let run = try #require(runs.first)
        #expect(run["conclusion"] as? String == "failure")
        let runID = try #require(run["id"] as? Int)
        let listed = try get("/repos/octo/jobs/actions/runs/\(runID)/jobs")
        let jobs = try #require(listed.json?["jobs"] as? [[String: Any]])
        #expect(jobs.map { $0["name"] as? String } == ["Lint", "deploy"])
        #expect(jobs.map { $0["conclusion"] as? String } == ["failure", "skipped"])
        let steps = (jobs.first?["steps"] as? [[String: Any]]) ?? []
        #expect(steps.map { $0["name"] as? String } == ["Set up job", "Run actions/checkout@v4", "Lint the script", "Run echo never", "Complete job"])
        #expect(steps.map { $0["conclusion"] as? String } == ["success", "success", "failure", "skipped", "success"])
        let jobID = try #require(jobs.first?["id"] as? Int)

        // The log: 302 to a signed URL on the storage host, which takes no token.
        let logPath = "/repos/octo/jobs/actions/jobs/\(jobID)/logs"
        #expect(try get(logPath, ["User-Agent": "test"]).status == 401, "logs need a signed-in user")
        let redirect = try get(logPath)
        #expect(redirect.status == 302)
        let location = try #require(URLComponents(string: redirect.headers["location"] ?? ""))
        let signed = location.percentEncodedPath + "?" + (location.percentEncodedQuery ?? "")
        #expect(try get(signed, ["Authorization": "Bearer \(token)"]).status == 400, "a token sent to storage is refused")
        #expect(try get(signed.replacingOccurrences(of: "sig=", with: "sig=0"), [:]).status == 403, "a forged signature is refused")
        let log = try get(signed, [:])
        #expect(log.status == 200)
        #expect(log.text.contains("ruff check .") && log.text.contains("##[error]Process completed with exit code 1."), "\(log.text)")
        #expect(!log.text.contains("Run echo never"), "a step after the failure does not run")

        // Bad requests change nothing and say why.
        #expect(try get("/repos/octo/jobs/actions/runs/999999/jobs").status == 404)
        #expect(try get("/repos/octo/jobs/actions/runs/\(runID)/jobs?filter=newest").status == 422)
        #expect(try get("/repos/octo/jobs/actions/jobs/999999/logs").status == 404)

        // A re-run is a new attempt with new job ids; filter=all lists both attempts.
        #expect(try HTTPClient.send(port: github.port, path: "/repos/octo/jobs/actions/runs/\(runID)/rerun", headers: api).status == 201)
        let latest = try #require(try get("/repos/octo/jobs/actions/runs/\(runID)/jobs").json?["jobs"] as? [[String: Any]])
        #expect(latest.count == 2 && !latest.contains { $0["id"] as? Int == jobID })
        #expect((try get("/repos/octo/jobs/actions/runs/\(runID)/jobs?filter=all").json?["total_count"] as? Int) == 4)
    }
}
