import Foundation
import Spool
import Testing
import TestSupport

/// The GitHub forge through the whole pipeline, against the GitHub emulator (REST + real git
/// over smart HTTP + Pages) on loopback.
@Suite(.serialized) struct GitHubForgeTests {
    /// A token in GitHub's format, so the secret scanner would also catch it if it leaked.
    static func makeToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "ghp_" + String((0..<36).map { _ in alphabet.randomElement()! })
    }

    struct World {
        let stack: LocalStack
        let github: Peer
        let evaluator: Peer
        let token: String
        let root: String
        let argvLog: String
    }

    /// The emulator's realistic delays (first Pages build 45 s, lag after creation 3 s …) scaled
    /// down, in the same order of events; its strictness (an errored first build included) stays.
    static let timeScale = ["--time-scale", "0.03"]

    /// Starts the emulator, an evaluator and a stack whose Finisher publishes to the emulator
    /// through a git wrapper that records every argv.
    static func withGitHub(
        scopes: String = "repo,workflow", token given: String? = nil, tokenPrefix: String = "ghp_", emulator: [String] = [],
        environment: [String: String] = [:], _ body: (World) throws -> Void
    ) throws {
        let token = tokenPrefix + Self.makeToken().dropFirst(4)
        let root = Paths.temporaryDirectory("github")
        let github = try Peer("github_emulator.py", ["--root", root, "--token", "\(token):octo:\(scopes)"] + timeScale + emulator)
        let evaluator = try Peer("evaluator.py")
        let argvLog = "\(root)/git-argv.log"
        let wrapper = "\(root)/git"
        try "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(argvLog)'\nexec /usr/bin/git \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        try withStack(environment: [
            "LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": given ?? token, "LLM_DEPLOY_GIT": wrapper,
        ].merging(environment) { _, new in new }) { stack in
            try body(World(stack: stack, github: github, evaluator: evaluator, token: token, root: root, argvLog: argvLog))
        }
    }

    static func notifications(_ world: World, nonce: String) throws -> [[String: Any]] {
        try world.evaluator.requests().compactMap { $0["json"] as? [String: Any] }.filter { $0["nonce"] as? String == nonce }
    }

    static func state(_ world: World) throws -> [String: Any] { try state(world.github) }

    static func state(_ github: Peer) throws -> [String: Any] {
        let response = try HTTPClient.send(port: github.port, method: "GET", path: "/_emulator/state")
        return try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
    }

    /// Every workflow run of every repository in the emulator.
    static func runs(_ github: Peer) throws -> [[String: Any]] {
        ((try state(github)["repos"] as? [[String: Any]]) ?? []).flatMap { ($0["runs"] as? [[String: Any]]) ?? [] }
    }

    /// Every file under `directory` whose bytes contain `needle`.
    static func files(under directory: String, containing needle: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var hits: [String] = []
        while let relative = walker.nextObject() as? String {
            let path = "\(directory)/\(relative)"
            if let data = FileManager.default.contents(atPath: path), data.range(of: Data(needle.utf8)) != nil { hits.append(relative) }
        }
        return hits
    }

    @Test func createsPushesEnablesPagesAndNeverLeaksTheToken() throws {
        try Self.withGitHub { world in
            let stack = world.stack
            let id = try stack.submit(["task": "gh-app", "nonce": "gh1", "evaluation_url": "\(world.evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            let payload = try #require(try Self.notifications(world, nonce: "gh1").first)
            #expect(payload["repo_url"] as? String == "\(world.github.url)/octo/gh-app")
            #expect(payload["pages_url"] as? String == "\(world.github.url)/pages/octo/gh-app/")
            let sha = try #require(payload["commit_sha"] as? String)
            let bare = "\(world.root)/repos/octo/gh-app.git"
            #expect(try stack.git(["rev-parse", "main"], in: bare) == sha)

            // Anyone can clone it; the page serves the committed index.html.
            let clone = "\(stack.home)/gh-clone"
            _ = try stack.git(["clone", "--quiet", "\(world.github.url)/octo/gh-app.git", clone])
            #expect(try String(contentsOfFile: "\(clone)/LICENSE", encoding: .utf8).hasPrefix("MIT License"))
            let page = try HTTPClient.send(port: world.github.port, method: "GET", path: "/pages/octo/gh-app/")
            #expect(page.status == 200)
            #expect(page.body == (try Data(contentsOf: URL(fileURLWithPath: "\(clone)/index.html"))))

            // REST calls carried GitHub's standard headers.
            let requests = try world.github.requests(path: "/_emulator/requests")
            let rest = requests.filter { !(($0["path"] as? String) ?? "").contains(".git") && !(($0["path"] as? String) ?? "").hasPrefix("/pages/") }
            #expect(!rest.isEmpty)
            #expect(rest.allSatisfy { $0["accept_github_json"] as? Bool == true && $0["api_version"] as? String == "2022-11-28" })

            // The token is in no file the service wrote, no URL, no argv.
            #expect(Self.files(under: stack.home, containing: world.token).isEmpty)
            #expect(requests.allSatisfy { !(($0["path"] as? String) ?? "").contains(world.token) })
            let argv = try String(contentsOfFile: world.argvLog, encoding: .utf8)
            #expect(argv.contains("push"))
            #expect(!argv.contains(world.token) && !argv.contains(Data("x-access-token:\(world.token)".utf8).base64EncodedString()))
            #expect(!FileManager.default.fileExists(atPath: "\(stack.home)/data/work/\(id)/tree/.git"))
        }
    }

    @Test func roundTwoPushesOnTopOfRoundOne() throws {
        try Self.withGitHub { world in
            let url = "\(world.evaluator.url)/n"
            _ = try world.stack.submit(["task": "gh-two", "nonce": "a", "evaluation_url": url])
            try world.stack.finisher(["drain"])
            _ = try world.stack.submit(["task": "gh-two", "nonce": "b", "round": 2, "brief": "Make it blue.", "evaluation_url": url])
            try world.stack.finisher(["drain"])
            let one = try #require(try Self.notifications(world, nonce: "a").first?["commit_sha"] as? String)
            let two = try #require(try Self.notifications(world, nonce: "b").first?["commit_sha"] as? String)
            let bare = "\(world.root)/repos/octo/gh-two.git"
            #expect(try world.stack.git(["rev-parse", "\(two)^"], in: bare) == one)
            #expect(try world.stack.git(["rev-list", "--count", "main"], in: bare) == "2")
        }
    }

    /// Rewinds a task's journal to "scan done, publish not yet": exactly a Finisher that died
    /// after pushing and before journaling the push.
    static func forgetPublishing(_ id: String, in stack: LocalStack) throws {
        let path = "\(stack.spool)/journal/\(id).json"
        var journal = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        journal["completed"] = ["prepare", "generate", "scan"]
        try JSONSerialization.data(withJSONObject: journal).write(to: URL(fileURLWithPath: path))
    }

    /// A Finisher that died after pushing but before journaling the push: the rerun finds its
    /// own commit on `main` and pushes nothing, creates nothing.
    @Test func aRerunAfterAPushThatWasNotJournaledDoesNotCommitTwice() throws {
        try Self.withGitHub { world in
            let stack = world.stack
            let id = try stack.submit(["task": "gh-crash", "nonce": "c", "evaluation_url": "\(world.evaluator.url)/n"])
            let killed = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_TEST_KILL_AFTER": "publish"])
            #expect(killed.reason == .uncaughtSignal)
            try Self.forgetPublishing(id, in: stack)
            let recovered = try stack.finisher(["recover"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(recovered.log)")
            let bare = "\(world.root)/repos/octo/gh-crash.git"
            #expect(try stack.git(["rev-list", "--count", "main"], in: bare) == "1")
            let creations = try world.github.requests(path: "/_emulator/requests").filter {
                $0["method"] as? String == "POST" && $0["path"] as? String == "/user/repos" && $0["status"] as? Int == 201
            }
            #expect(creations.count == 1)
            #expect(try Self.notifications(world, nonce: "c").count == 1)
        }
    }

    /// SIGKILL after each stage, then `recover`: one repository, one commit, one notification.
    @Test(arguments: Stage.allCases)
    func aFinisherKilledAfterAnyStageLeavesOneRepositoryAndOneCommit(_ stage: Stage) throws {
        try Self.withGitHub { world in
            let stack = world.stack
            let task = "gh-kill-\(stage.rawValue)"
            let id = try stack.submit(["task": task, "nonce": "k", "evaluation_url": "\(world.evaluator.url)/n"])
            let killed = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_TEST_KILL_AFTER": stage.rawValue])
            #expect(killed.reason == .uncaughtSignal)
            try stack.finisher(["recover"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try stack.git(["rev-list", "--count", "main"], in: "\(world.root)/repos/octo/\(task).git") == "1")
            let creations = try world.github.requests(path: "/_emulator/requests").filter {
                $0["method"] as? String == "POST" && $0["path"] as? String == "/user/repos" && $0["status"] as? Int == 201
            }
            #expect(creations.count == 1)
            #expect(try Self.notifications(world, nonce: "k").count == 1)
        }
    }

    @Test func aRateLimitDefersTheTaskUntilTheReset() throws {
        try Self.withGitHub { world in
            let stack = world.stack
            let fault: [String: Any] = ["method": "POST", "path": "^/user/repos$", "kind": "primary-rate-limit", "status": 403, "count": 1, "reset_in": 3]
            _ = try HTTPClient.postJSON(port: world.github.port, path: "/_emulator/faults", fault)
            let id = try stack.submit(["task": "gh-limited", "nonce": "l", "evaluation_url": "\(world.evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/deferred/\(id)"))
            let journal = try stack.journal(id)
            let next = try #require((journal["next_attempt_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(next.timeIntervalSinceNow > 0 && next.timeIntervalSinceNow < 10)
            #expect(((journal["attempts"] as? [[String: Any]])?.last?["error"] as? String)?.contains("rate limited") == true)
            usleep(UInt32(max(0, next.timeIntervalSinceNow + 0.5) * 1_000_000))
            try stack.finisher(["recover"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try Self.notifications(world, nonce: "l").count == 1)
        }
    }

    @Test func aRefusedTokenFailsTheTaskSayingWhatToCheck() throws {
        try Self.withGitHub(token: "ghp_" + String(repeating: "x", count: 36)) { world in
            let id = try world.stack.submit(["task": "gh-denied", "nonce": "d", "evaluation_url": "\(world.evaluator.url)/n"])
            try world.stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(world.stack.spool)/failed/\(id)"))
            let failure = try world.stack.journal(id)["failure"] as? String
            #expect(failure?.contains("check GITHUB_TOKEN") == true, "\(failure ?? "nil")")
        }
    }

    /// The secret gate runs before any push: a credential in the tree fails the task and GitHub
    /// never hears of the repository.
    @Test func aPlantedCredentialBlocksThePush() throws {
        try Self.withGitHub { world in
            let leaked = "AKIA" + "IOSFODNN7EXAMPLQ"
            let attachment = "data:text/plain;base64," + Data("aws_key = \(leaked)\n".utf8).base64EncodedString()
            let id = try world.stack.submit([
                "task": "gh-leak", "nonce": "s", "evaluation_url": "\(world.evaluator.url)/n",
                "attachments": [["name": "config.txt", "url": attachment]],
            ])
            try world.stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(world.stack.spool)/failed/\(id)"))
            let failure = try world.stack.journal(id)["failure"] as? String ?? ""
            #expect(failure.contains("config.txt:1: aws-access-key-id"), "\(failure)")
            #expect(!failure.contains(leaked))
            let pushes = try world.github.requests(path: "/_emulator/requests").filter { (($0["path"] as? String) ?? "").contains("gh-leak") }
            #expect(pushes.isEmpty)
        }
    }
}

/// Briefs that ask for CI: a model (the scripted OpenAI-compatible peer) returns a Pages workflow.
@Suite(.serialized) struct GitHubWorkflowTests {
    static func workflow(name: String = "Deploy Pages", artifact: String = ".", deploys: Bool = true, on: String = "{ push: { branches: [main] } }") -> String {
        let deploy = deploys ? """
                  - uses: actions/upload-pages-artifact@v3
                    with: { path: \(artifact) }
                  - uses: actions/deploy-pages@v4
            """ : "      - run: echo checked"
        return """
            name: \(name)
            on: \(on)
            permissions: { contents: read, pages: write, id-token: write }
            jobs:
              deploy:
                runs-on: ubuntu-latest
                environment: { name: github-pages }
                steps:
                  - uses: actions/checkout@v4
            \(deploy)

            """
    }

    /// One model answer: an index.html saying `title`, a README and `extra` files.
    static func modelAnswer(
        _ title: String = "ci", workflows: [String: String] = [".github/workflows/pages.yml": workflow()], delete: [String] = []
    ) throws -> String {
        var files: [[String: String]] = [
            ["path": "index.html", "content": "<!doctype html><title>\(title)</title><h1 id=\"total\">42</h1>\n"],
            ["path": "README.md", "content": "# CI app\n\n## Summary\n\nDeployed by GitHub Actions.\n"],
        ]
        files += workflows.sorted { $0.key < $1.key }.map { ["path": $0.key, "content": $0.value] }
        let answer: [String: Any] = ["summary": "A page deployed by a workflow.", "files": files, "delete": delete]
        return String(decoding: try JSONSerialization.data(withJSONObject: answer), as: UTF8.self)
    }

    /// A stack whose generator is the scripted model answering `answers` in turn (the last one
    /// again after that), publishing to the emulator with a `token` of the given kind.
    static func withModelAndGitHub(
        scopes: String, tokenPrefix: String = "ghp_", answers: [String]? = nil, emulator: [String] = [],
        environment: [String: String] = [:], _ body: (LocalStack, Peer, Peer, String) throws -> Void
    ) throws {
        try withModelAndGitHub(scopes: scopes, tokenPrefix: tokenPrefix, answers: answers, emulator: emulator, environment: environment) {
            stack, github, evaluator, _, root in try body(stack, github, evaluator, root)
        }
    }

    /// The same, with the scripted model's peer too (to read what it was asked).
    static func withModelAndGitHub(
        scopes: String, tokenPrefix: String = "ghp_", answers: [String]? = nil, emulator: [String] = [],
        environment: [String: String] = [:], _ body: (LocalStack, Peer, Peer, Peer, String) throws -> Void
    ) throws {
        let token = tokenPrefix + GitHubForgeTests.makeToken().dropFirst(4)
        let key = "sk-test-\(UUID().uuidString)"
        let root = Paths.temporaryDirectory("github-ci")
        let script = "\(root)/script.json"
        let answers = try answers ?? [modelAnswer()]
        try JSONSerialization.data(withJSONObject: ["steps": answers.map { ["content": $0] }, "default": ["content": answers.last!]])
            .write(to: URL(fileURLWithPath: script))
        let model = try Peer("openai_stub.py", ["--key", key, "--script", script])
        let github = try Peer("github_emulator.py", ["--root", root, "--token", "\(token):octo:\(scopes)"] + GitHubForgeTests.timeScale + emulator)
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: [
            "LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": token,
            "OPENAI_BASE_URL": "\(model.url)/v1", "OPENAI_API_KEY": key, "LLM_DEPLOY_MODEL": "stub-model",
        ].merging(environment) { _, new in new }) { stack in
            try body(stack, github, evaluator, model, root)
        }
    }

    static func page(_ github: Peer, _ path: String) throws -> HTTPResponse {
        try HTTPClient.send(port: github.port, method: "GET", path: path)
    }

    /// Pages is enabled (build_type workflow) before the push, so the run the push starts can
    /// deploy: a run that starts before Pages is enabled fails on GitHub, and stays failed.
    @Test func aWorkflowSiteIsDeployedByItsRunAndNotified() throws {
        try Self.withModelAndGitHub(scopes: "repo,workflow") { stack, github, evaluator, root in
            let id = try stack.submit(["task": "ci-site", "nonce": "ci", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            let journal = try stack.journal(id)
            #expect((journal["outputs"] as? [String: Any])?["generator"] as? String == "stub-model")
            #expect((journal["outputs"] as? [String: Any])?["pages_verified"] as? Bool == true, "\(run.log)")
            let state = try GitHubForgeTests.state(github)
            let repo = try #require((state["repos"] as? [[String: Any]])?.first)
            #expect((repo["pages"] as? [String: Any])?["build_type"] as? String == "workflow")
            let runs = repo["runs"] as? [[String: Any]] ?? []
            #expect(runs.count == 1 && runs.allSatisfy { $0["conclusion"] as? String == "success" }, "\(runs)")
            #expect(try Self.page(github, "/pages/octo/ci-site/").text.contains("<title>ci</title>"))
            #expect(try evaluator.requests().count == 1)
        }
    }

    /// A classic token without the `workflow` scope: the site is published without
    /// .github/workflows/ (branch-built), notified on time, and the commit says why.
    @Test func aTokenWithoutTheWorkflowScopePublishesTheRestAndSaysWhy() throws {
        try Self.withModelAndGitHub(scopes: "repo") { stack, github, evaluator, root in
            try Self.expectPublishedWithoutWorkflows(stack, github, evaluator, root, task: "ci-refused", because: "`workflow` scope")
        }
    }

    /// A GitHub App installation token without the `workflows` permission gets GitHub's other
    /// wording; it too is a reason to publish the rest, not to retry for hours.
    @Test func anAppTokenWithoutTheWorkflowsPermissionPublishesTheRestAndSaysWhy() throws {
        try Self.withModelAndGitHub(scopes: "contents,pages,administration", tokenPrefix: "ghs_") { stack, github, evaluator, root in
            try Self.expectPublishedWithoutWorkflows(stack, github, evaluator, root, task: "ci-app", because: "`workflows` permission")
        }
    }

    static func expectPublishedWithoutWorkflows(_ stack: LocalStack, _ github: Peer, _ evaluator: Peer, _ root: String, task: String, because: String) throws {
        let id = try stack.submit(["task": task, "nonce": "w", "evaluation_url": "\(evaluator.url)/n"])
        let run = try stack.finisher(["drain"])
        #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
        #expect((try stack.journal(id)["outputs"] as? [String: Any])?["pages_verified"] as? Bool == true, "\(run.log)")
        let bare = "\(root)/repos/octo/\(task).git"
        let tree = try stack.git(["ls-tree", "-r", "--name-only", "main"], in: bare)
        #expect(!tree.contains(".github/workflows") && tree.contains("index.html") && tree.contains(".nojekyll"), "\(tree)")
        let message = try stack.git(["log", "-1", "--format=%B", "main"], in: bare)
        #expect(message.contains("Published without .github/workflows/") && message.contains(because), "\(message)")
        #expect(try Self.page(github, "/pages/octo/\(task)/").text.contains("<title>ci</title>"))
        #expect(try evaluator.requests().count == 1)
    }

    /// A Finisher killed after pushing the workflow-less commit, before journaling it: the rerun
    /// finds that commit and keeps the site branch-built (a workflow site would never deploy).
    @Test func aRerunAfterPublishingWithoutWorkflowsKeepsTheBranchBuild() throws {
        try Self.withModelAndGitHub(scopes: "repo", environment: ["LLM_DEPLOY_DEADLINE": "40"]) { stack, github, evaluator, root in
            let id = try stack.submit(["task": "ci-rerun", "nonce": "rr", "evaluation_url": "\(evaluator.url)/n"])
            let killed = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_TEST_KILL_AFTER": "publish"])
            #expect(killed.reason == .uncaughtSignal)
            try GitHubForgeTests.forgetPublishing(id, in: stack)
            let recovered = try stack.finisher(["recover"])
            #expect((try stack.journal(id)["outputs"] as? [String: Any])?["pages_verified"] as? Bool == true, "\(recovered.log)")
            #expect(try stack.git(["rev-list", "--count", "main"], in: "\(root)/repos/octo/ci-rerun.git") == "1")
            let repo = (try GitHubForgeTests.state(github)["repos"] as? [[String: Any]])?.first
            #expect((repo?["pages"] as? [String: Any])?["build_type"] as? String == "legacy")
        }
    }

    /// Round 1 deployed by a workflow, round 2 plain files: the PUT back to a branch-built site
    /// builds nothing on GitHub, so the forge must ask for the build; the page then serves round 2.
    @Test func switchingBackToABranchBuildRequestsTheBuild() throws {
        let answers = [try Self.modelAnswer("one"), try Self.modelAnswer("two", workflows: [:], delete: [".github/workflows/pages.yml"])]
        try Self.withModelAndGitHub(scopes: "repo,workflow", answers: answers, environment: ["LLM_DEPLOY_DEADLINE": "40"]) { stack, github, evaluator, root in
            let url = "\(evaluator.url)/n"
            _ = try stack.submit(["task": "ci-switch", "nonce": "s1", "evaluation_url": url])
            try stack.finisher(["drain"])
            let id = try stack.submit(["task": "ci-switch", "nonce": "s2", "round": 2, "brief": "Drop the workflow.", "evaluation_url": url])
            let run = try stack.finisher(["drain"])
            #expect((try stack.journal(id)["outputs"] as? [String: Any])?["pages_verified"] as? Bool == true, "\(run.log)")
            #expect(try Self.page(github, "/pages/octo/ci-switch/").text.contains("<title>two</title>"))
            let requests = try github.requests(path: "/_emulator/requests")
            #expect(requests.contains { $0["method"] as? String == "POST" && $0["path"] as? String == "/repos/octo/ci-switch/pages/builds" })
        }
    }

    /// A CI workflow that succeeds at once is not the Pages deployment: the forge follows the run
    /// of the workflow that deploys Pages, and reports its failure (after one re-run) rather than
    /// waiting out the budget on a page that will never come.
    @Test func theDeployRunIsTrackedNotAnyCIRun() throws {
        let workflows = [
            ".github/workflows/ci.yml": Self.workflow(name: "CI", deploys: false),
            ".github/workflows/pages.yml": Self.workflow(artifact: "site"),  // no site/ folder: the run fails
        ]
        try Self.withModelAndGitHub(scopes: "repo,workflow", answers: [try Self.modelAnswer(workflows: workflows)],
                                    environment: ["LLM_DEPLOY_DEADLINE": "60"]) { stack, github, evaluator, root in
            let id = try stack.submit(["task": "ci-two", "nonce": "c2", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            #expect((try stack.journal(id)["outputs"] as? [String: Any])?["pages_verified"] as? Bool == false)
            #expect(run.log.contains("the forge's Pages deployment failed") && run.log.contains("concluded failure"), "\(run.log)")
            let runs = try GitHubForgeTests.runs(github)
            #expect(runs.contains { $0["path"] as? String == ".github/workflows/ci.yml" && $0["conclusion"] as? String == "success" })
            #expect(runs.contains { $0["path"] as? String == ".github/workflows/pages.yml" && $0["run_attempt"] as? Int == 2 }, "\(runs)")
            #expect(try evaluator.requests().count == 1)
        }
    }

    /// A deploy workflow that only runs on `workflow_dispatch` would leave the site unbuilt
    /// after a push: the forge dispatches it, and the wait follows that run.
    @Test func aDeployWorkflowWithoutAPushTriggerIsDispatched() throws {
        let workflows = [".github/workflows/pages.yml": Self.workflow(on: "{ workflow_dispatch: {} }")]
        try Self.withModelAndGitHub(scopes: "repo,workflow", answers: [try Self.modelAnswer(workflows: workflows)],
                                    environment: ["LLM_DEPLOY_DEADLINE": "40"]) { stack, github, evaluator, root in
            let id = try stack.submit(["task": "ci-dispatch", "nonce": "d", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect((try stack.journal(id)["outputs"] as? [String: Any])?["pages_verified"] as? Bool == true, "\(run.log)")
            let runs = try GitHubForgeTests.runs(github)
            #expect(runs.count == 1 && runs.first?["event"] as? String == "workflow_dispatch" && runs.first?["conclusion"] as? String == "success", "\(runs)")
        }
    }
}

/// GitHub as it is, not as one would like it: the emulator's lag, errored builds, CDN caching,
/// Jekyll, case-insensitive names and API budget, each met by the forge and the Pages wait.
extension GitHubForgeTests {
    static func outputs(_ stack: LocalStack, _ id: String) throws -> [String: Any] {
        (try stack.journal(id)["outputs"] as? [String: Any]) ?? [:]
    }

    static func page(_ world: World, _ path: String) throws -> HTTPResponse {
        try HTTPClient.send(port: world.github.port, method: "GET", path: path)
    }

    /// A file on `main` (its text without surrounding whitespace, as `git` output is read).
    static func committed(_ world: World, _ repository: String, _ path: String) throws -> String {
        try world.stack.git(["show", "main:\(path)"], in: "\(world.root)/repos/octo/\(repository).git")
    }

    static func served(_ world: World, _ path: String) throws -> String {
        try page(world, path).text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The emulator's first build of every site errors (as GitHub's sometimes do): the forge
    /// asks for a new build and the wait goes on, instead of notifying a page that is a 404.
    @Test func anErroredFirstBuildIsRebuiltAndTheNewPageVerified() throws {
        try Self.withGitHub { world in
            let id = try world.stack.submit(["task": "gh-errored", "nonce": "e", "evaluation_url": "\(world.evaluator.url)/n"])
            let run = try world.stack.finisher(["drain"])
            #expect(try Self.outputs(world.stack, id)["pages_verified"] as? Bool == true, "\(run.log)")
            let builds = try #require((try Self.state(world)["repos"] as? [[String: Any]])?.first?["builds"] as? [[String: Any]])
            #expect(builds.first?["status"] as? String == "errored" && builds.last?["status"] as? String == "built", "\(builds)")
            let committed = try Self.committed(world, "gh-errored", "index.html")
            #expect(try Self.served(world, "/pages/octo/gh-errored/") == committed)
        }
    }

    /// Round 2 while the CDN still serves round 1 for a while after GitHub says "built": the
    /// wait ends only when the page serves round 2's index.html.
    @Test func aCachedPageOfTheLastRoundIsNotTakenForTheNewOne() throws {
        try Self.withGitHub(emulator: ["--cdn-lag", "3", "--errored-builds", "none"]) { world in
            let url = "\(world.evaluator.url)/n"
            _ = try world.stack.submit(["task": "gh-cached", "nonce": "r1", "evaluation_url": url])
            try world.stack.finisher(["drain"])
            let id = try world.stack.submit(["task": "gh-cached", "nonce": "r2", "round": 2, "brief": "Make it blue.", "evaluation_url": url])
            let run = try world.stack.finisher(["drain"])
            #expect(try Self.outputs(world.stack, id)["pages_verified"] as? Bool == true, "\(run.log)")
            // At notification time the page already serves round 2.
            let served = try Self.served(world, "/pages/octo/gh-cached/")
            let committed = try Self.committed(world, "gh-cached", "index.html")
            #expect(served.contains("Make it blue.") && served == committed)
        }
    }

    /// GitHub answers 404 (git and API) for a moment after creating a repository, and 422 "The
    /// main branch must exist" right after the first push: both are waited out in the same
    /// attempt, not deferred (a minute lost) or failed.
    @Test func theLagAfterCreatingARepositoryIsWaitedOut() throws {
        try Self.withGitHub(emulator: ["--create-lag", "2", "--branch-lag", "1"]) { world in
            let id = try world.stack.submit(["task": "gh-lag", "nonce": "lag", "evaluation_url": "\(world.evaluator.url)/n"])
            let run = try world.stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(world.stack.spool)/done/\(id)"), "\(run.log)")
            #expect((try world.stack.journal(id)["deferrals"] as? Int ?? 0) == 0)
            #expect(try Self.outputs(world.stack, id)["pages_verified"] as? Bool == true, "\(run.log)")
            let statuses = try world.github.requests(path: "/_emulator/requests").compactMap { request -> Int? in
                (request["path"] as? String)?.hasSuffix("/pages") == true && request["method"] as? String == "POST" ? request["status"] as? Int : nil
            }
            #expect(statuses.first == 422 && statuses.last == 201, "the emulator's lag was met: \(statuses)")
        }
    }

    /// Branch-built sites go through Jekyll on GitHub, which drops `_` files: `.nojekyll` is committed.
    @Test func underscoreFilesAreServedBecauseNoJekyllIsCommitted() throws {
        try Self.withGitHub { world in
            let csv = "data:text/csv;base64," + Data("a,b\n1,2\n".utf8).base64EncodedString()
            let id = try world.stack.submit([
                "task": "gh-jekyll", "nonce": "j", "evaluation_url": "\(world.evaluator.url)/n",
                "attachments": [["name": "_data.csv", "url": csv]],
            ])
            let run = try world.stack.finisher(["drain"])
            #expect(try Self.outputs(world.stack, id)["pages_verified"] as? Bool == true, "\(run.log)")
            #expect(try Self.committed(world, "gh-jekyll", ".nojekyll").isEmpty)
            let file = try Self.page(world, "/pages/octo/gh-jekyll/_data.csv")
            #expect(file.status == 200 && file.text == "a,b\n1,2\n")
        }
    }

    /// GitHub names are case-insensitive: tasks "Demo" and "demo" get two repositories.
    @Test func tasksWhoseNamesDifferInCaseGetTwoRepositories() throws {
        try Self.withGitHub { world in
            let url = "\(world.evaluator.url)/n"
            let upper = try world.stack.submit(["task": "Demo", "nonce": "u", "evaluation_url": url])
            try world.stack.finisher(["drain"])
            let lower = try world.stack.submit(["task": "demo", "nonce": "l", "evaluation_url": url])
            try world.stack.finisher(["drain"])
            let a = try #require(try Self.outputs(world.stack, upper)["repo_url"] as? String)
            let b = try #require(try Self.outputs(world.stack, lower)["repo_url"] as? String)
            #expect(a.lowercased() != b.lowercased())
            let repos = ((try Self.state(world)["repos"] as? [[String: Any]]) ?? []).compactMap { $0["full_name"] as? String }
            #expect(repos.count == 2, "\(repos)")
            for repo in repos {
                #expect(try world.stack.git(["rev-list", "--count", "main"], in: "\(world.root)/repos/\(repo).git") == "1")
            }
        }
    }

    /// A repository of the task's name whose history is not this task's is never adopted.
    @Test func aRepositoryWithSomeoneElsesHistoryIsNotAdopted() throws {
        try Self.withGitHub { world in
            let created = try HTTPClient.send(
                port: world.github.port, method: "POST", path: "/user/repos",
                headers: ["Authorization": "Bearer \(world.token)", "User-Agent": "test", "Content-Type": "application/json"],
                body: Data(#"{"name": "gh-taken", "auto_init": true}"#.utf8))
            #expect(created.status == 201)
            let id = try world.stack.submit(["task": "gh-taken", "nonce": "t", "evaluation_url": "\(world.evaluator.url)/n"])
            try world.stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(world.stack.spool)/failed/\(id)"))
            let failure = try world.stack.journal(id)["failure"] as? String ?? ""
            #expect(failure.contains("which is not this task's"), "\(failure)")
            #expect(try world.stack.git(["rev-list", "--count", "main"], in: "\(world.root)/repos/octo/gh-taken.git") == "1")
        }
    }

    /// A Pages wait of several seconds costs a handful of API calls: the owner is asked once,
    /// the page itself is polled more than the API.
    @Test func thePagesWaitSpendsFewAPICalls() throws {
        try Self.withGitHub(emulator: ["--first-build-delay", "6", "--errored-builds", "none"]) { world in
            let id = try world.stack.submit(["task": "gh-budget", "nonce": "b", "evaluation_url": "\(world.evaluator.url)/n"])
            let run = try world.stack.finisher(["drain"])
            #expect(try Self.outputs(world.stack, id)["pages_verified"] as? Bool == true, "\(run.log)")
            let calls = try HTTPClient.send(port: world.github.port, method: "GET", path: "/_emulator/calls").json ?? [:]
            let requests = try world.github.requests(path: "/_emulator/requests")
            #expect(requests.filter { $0["path"] as? String == "/user" }.count == 1)
            #expect((calls["total"] as? Int ?? 99) <= 12, "\(calls)")
        }
    }

    /// With little of the hourly budget left, the wait stops asking the API (the page is the
    /// signal) instead of spending it to the last call and meeting 403s.
    @Test func aNearlySpentRateLimitIsNotSpentOnPolls() throws {
        try Self.withGitHub(emulator: ["--first-build-delay", "4", "--errored-builds", "none"]) { world in
            _ = try HTTPClient.postJSON(port: world.github.port, path: "/_emulator/config", ["rate_limit_authenticated": 10])
            let id = try world.stack.submit(["task": "gh-spent", "nonce": "s", "evaluation_url": "\(world.evaluator.url)/n"])
            let run = try world.stack.finisher(["drain"])
            #expect(try Self.outputs(world.stack, id)["pages_verified"] as? Bool == true, "\(run.log)")
            let refused = try world.github.requests(path: "/_emulator/requests").filter { $0["status"] as? Int == 403 }
            #expect(refused.isEmpty, "\(refused.map { $0["path"] ?? "" })")
        }
    }
}
