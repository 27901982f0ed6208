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

    /// Starts the emulator, an evaluator and a stack whose Finisher publishes to the emulator
    /// through a git wrapper that records every argv.
    static func withGitHub(scopes: String = "repo,workflow", token given: String? = nil, _ body: (World) throws -> Void) throws {
        let token = Self.makeToken()
        let root = Paths.temporaryDirectory("github")
        let github = try Peer("github_emulator.py", ["--root", root, "--token", "\(token):octo:\(scopes)"])
        let evaluator = try Peer("evaluator.py")
        let argvLog = "\(root)/git-argv.log"
        let wrapper = "\(root)/git"
        try "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(argvLog)'\nexec /usr/bin/git \"$@\"\n".write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        try withStack(environment: [
            "LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": given ?? token, "LLM_DEPLOY_GIT": wrapper,
        ]) { stack in
            try body(World(stack: stack, github: github, evaluator: evaluator, token: token, root: root, argvLog: argvLog))
        }
    }

    static func notifications(_ world: World, nonce: String) throws -> [[String: Any]] {
        try world.evaluator.requests().compactMap { $0["json"] as? [String: Any] }.filter { $0["nonce"] as? String == nonce }
    }

    static func state(_ world: World) throws -> [String: Any] {
        let response = try HTTPClient.send(port: world.github.port, method: "GET", path: "/_emulator/state")
        return try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
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

    /// A Finisher that died after pushing but before journaling the push: the rerun finds its
    /// own commit on `main` and pushes nothing, creates nothing.
    @Test func aRerunAfterAPushThatWasNotJournaledDoesNotCommitTwice() throws {
        try Self.withGitHub { world in
            let stack = world.stack
            let id = try stack.submit(["task": "gh-crash", "nonce": "c", "evaluation_url": "\(world.evaluator.url)/n"])
            let killed = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_TEST_KILL_AFTER": "publish"])
            #expect(killed.reason == .uncaughtSignal)
            // Rewind the journal to "scan done, publish not yet": exactly a crash after the push.
            let path = "\(stack.spool)/journal/\(id).json"
            var journal = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            journal["completed"] = ["prepare", "generate", "scan"]
            try JSONSerialization.data(withJSONObject: journal).write(to: URL(fileURLWithPath: path))
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
    static let workflow = """
        name: Deploy Pages
        on: { push: { branches: [main] } }
        permissions: { contents: read, pages: write, id-token: write }
        jobs:
          deploy:
            runs-on: ubuntu-latest
            environment: { name: github-pages }
            steps:
              - uses: actions/checkout@v4
              - uses: actions/upload-pages-artifact@v3
                with: { path: . }
              - uses: actions/deploy-pages@v4

        """

    static func modelAnswer() throws -> String {
        let answer: [String: Any] = [
            "summary": "A page deployed by a workflow.",
            "files": [
                ["path": "index.html", "content": "<!doctype html><title>ci</title><h1 id=\"total\">42</h1>\n"],
                ["path": ".github/workflows/pages.yml", "content": workflow],
                ["path": "README.md", "content": "# CI app\n\n## Summary\n\nDeployed by GitHub Actions.\n"],
            ],
            "delete": [],
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: answer), as: UTF8.self)
    }

    static func withModelAndGitHub(scopes: String, _ body: (LocalStack, Peer, Peer, String) throws -> Void) throws {
        let token = GitHubForgeTests.makeToken()
        let key = "sk-test-\(UUID().uuidString)"
        let root = Paths.temporaryDirectory("github-ci")
        let script = "\(root)/script.json"
        try JSONSerialization.data(withJSONObject: ["steps": [], "default": ["content": try modelAnswer()]]).write(to: URL(fileURLWithPath: script))
        let model = try Peer("openai_stub.py", ["--key", key, "--script", script])
        let github = try Peer("github_emulator.py", ["--root", root, "--token", "\(token):octo:\(scopes)", "--workflow-delay", "2"])
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: [
            "LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": token,
            "OPENAI_BASE_URL": "\(model.url)/v1", "OPENAI_API_KEY": key, "LLM_DEPLOY_MODEL": "stub-model",
        ]) { stack in
            try body(stack, github, evaluator, root)
        }
    }

    @Test func aWorkflowSiteIsDeployedByItsRunAndNotified() throws {
        try Self.withModelAndGitHub(scopes: "repo,workflow") { stack, github, evaluator, root in
            let id = try stack.submit(["task": "ci-site", "nonce": "ci", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            let journal = try stack.journal(id)
            #expect((journal["outputs"] as? [String: Any])?["generator"] as? String == "stub-model")
            #expect((journal["outputs"] as? [String: Any])?["pages_verified"] as? Bool == true, "\(run.log)")
            let pages = try HTTPClient.send(port: github.port, method: "GET", path: "/_emulator/state")
            #expect(pages.text.contains("workflow"), "Pages was enabled with build_type workflow")
            let runs = try github.requests(path: "/_emulator/requests").filter { (($0["path"] as? String) ?? "").contains("/actions/runs?head_sha=") }
            #expect(!runs.isEmpty, "the Finisher waited on the workflow run")
            #expect(try evaluator.requests().count == 1)
        }
    }

    @Test func aTokenWithoutTheWorkflowScopeFailsSayingSo() throws {
        try Self.withModelAndGitHub(scopes: "repo") { stack, _, evaluator, root in
            let id = try stack.submit(["task": "ci-refused", "nonce": "cr", "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(id)"))
            let failure = try stack.journal(id)["failure"] as? String ?? ""
            #expect(failure.contains("lacks the `workflow` scope"), "\(failure)")
            #expect(try stack.git(["rev-list", "--all", "--count"], in: "\(root)/repos/octo/ci-refused.git") == "0")
            #expect(try evaluator.requests().isEmpty)
        }
    }
}
