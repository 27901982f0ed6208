import Foundation
import Testing
import TestSupport

/// The system as its user meets it: requests over HTTP, a Handler that
/// wakes its own Finishers, a scripted LLM, a forge (the local one, then the GitHub emulator)
/// and a loopback evaluator. Everything is observed from outside.
@Suite(.serialized) struct EndToEndTests {
    enum ForgeKind: String, CaseIterable, Sendable { case local, github }

    static func answer(_ heading: String, readme: String) throws -> String {
        let files: [[String: String]] = [
            ["path": "index.html", "content": "<!doctype html><title>sum</title><h1 id=\"total\">\(heading)</h1><script src=\"app.js\"></script>\n"],
            ["path": "app.js", "content": "fetch('data.csv').then(r => r.text()).then(t => console.log(t));\n"],
            ["path": "README.md", "content": readme],
        ]
        let object: [String: Any] = ["summary": heading, "files": files, "delete": []]
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// GET an absolute loopback URL.
    static func get(_ url: String) throws -> HTTPResponse {
        let parsed = try #require(URLComponents(string: url))
        return try HTTPClient.send(port: try #require(parsed.port), method: "GET", path: parsed.percentEncodedPath)
    }

    @Test(arguments: ForgeKind.allCases)
    func roundOneAndRoundTwoFromRequestToNotification(_ kind: ForgeKind) throws {
        let key = "sk-e2e-\(UUID().uuidString)"
        let token = GitHubForgeTests.makeToken()
        let root = Paths.temporaryDirectory("e2e")
        let readme1 = "# Sum\n\n## Summary\n\nShows the total.\n\n## Setup\n\nNone.\n\n## Usage\n\nOpen it.\n\n## Code\n\napp.js reads data.csv.\n\n## License\n\nMIT\n"
        let script: [String: Any] = ["steps": [
            ["content": try Self.answer("round one", readme: readme1)],
            ["content": try Self.answer("round two", readme: readme1 + "\n## Round 2\n\nShows round two.\n")],
        ]]
        try JSONSerialization.data(withJSONObject: script).write(to: URL(fileURLWithPath: "\(root)/script.json"))
        let model = try Peer("openai_stub.py", ["--key", key, "--script", "\(root)/script.json"])
        let evaluator = try Peer("evaluator.py")
        var environment = [
            "LLM_DEPLOY_WAKE": "\(Paths.product("llm-deploy-finisher")) drain",
            "OPENAI_BASE_URL": "\(model.url)/v1", "OPENAI_API_KEY": key, "LLM_DEPLOY_MODEL": "stub-model",
        ]
        var github: Peer?
        if kind == .github {
            github = try Peer("github_emulator.py", ["--root", root, "--token", "\(token):octo:repo,workflow", "--pages-delay", "1"])
            environment.merge(["LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github!.url, "GITHUB_TOKEN": token]) { _, new in new }
        }
        try withStack(environment: environment) { stack in
            let task = "e2e-sum-\(kind.rawValue)"
            let round1 = stack.request(["task": task, "nonce": "one", "evaluation_url": "\(evaluator.url)/notify"])
            // Sent twice, as an evaluator that thinks the first try failed would: one build.
            let first = try HTTPClient.postJSON(port: stack.port, round1)
            let again = try HTTPClient.postJSON(port: stack.port, round1)
            #expect(first.status == 200 && again.status == 200)
            #expect(first.json?["duplicate"] as? Bool == false && again.json?["duplicate"] as? Bool == true)

            var notified: [[String: Any]] = []
            #expect(eventually(timeout: 60) {
                notified = ((try? evaluator.requests()) ?? []).compactMap { $0["json"] as? [String: Any] }
                return notified.contains { $0["nonce"] as? String == "one" }
            }, "no notification for round 1: \(stack.handler!.log.suffix(2000))")
            let one = try #require(notified.first { $0["nonce"] as? String == "one" })
            #expect(one["round"] as? Int == 1 && one["task"] as? String == task && one["email"] as? String == "student@example.com")
            let repoURL = try #require(one["repo_url"] as? String)
            let pagesURL = try #require(one["pages_url"] as? String)
            let sha1 = try #require(one["commit_sha"] as? String)

            let clone = "\(stack.home)/e2e-clone"
            let cloneURL = kind == .github ? "\(repoURL).git" : repoURL
            _ = try stack.git(["clone", "--quiet", cloneURL, clone])
            #expect(try String(contentsOfFile: "\(clone)/LICENSE", encoding: .utf8).contains("Permission is hereby granted, free of charge"))
            #expect(try String(contentsOfFile: "\(clone)/README.md", encoding: .utf8).contains("## Usage"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(clone)/data.csv")) == Data("a,b\n1,2\n".utf8))
            let index1 = try Data(contentsOf: URL(fileURLWithPath: "\(clone)/index.html"))
            #expect(String(decoding: index1, as: UTF8.self).contains("round one"))
            #expect(eventually(timeout: 20) { (try? Self.get(pagesURL))?.body == index1 })
            #expect(try Self.get(pagesURL + "data.csv").body == Data("a,b\n1,2\n".utf8))

            // Round 2: same repository, a child commit, the page shows the change.
            _ = try stack.submit(["task": task, "round": 2, "nonce": "two", "brief": "Say round two.", "evaluation_url": "\(evaluator.url)/notify"])
            #expect(eventually(timeout: 60) {
                notified = ((try? evaluator.requests()) ?? []).compactMap { $0["json"] as? [String: Any] }
                return notified.contains { $0["nonce"] as? String == "two" }
            })
            let two = try #require(notified.first { $0["nonce"] as? String == "two" })
            #expect(two["round"] as? Int == 2 && two["repo_url"] as? String == repoURL)
            let sha2 = try #require(two["commit_sha"] as? String)
            _ = try stack.git(["fetch", "--quiet", "origin"], in: clone)
            #expect(try stack.git(["rev-parse", "\(sha2)^"], in: clone) == sha1)
            #expect(eventually(timeout: 20) { (try? Self.get(pagesURL))?.text.contains("round two") == true })
            #expect(notified.filter { $0["nonce"] as? String == "one" }.count == 1, "round 1 was built or notified twice")

            // No configured secret anywhere: history, page, spool, journal, logs, work trees.
            let history = try stack.git(["log", "-p", "--all"], in: clone)
            for secret in [stack.secret, key, token] {
                #expect(!history.contains(secret))
                #expect(!(try Self.get(pagesURL)).text.contains(secret))
                #expect(GitHubForgeTests.files(under: stack.home, containing: secret).isEmpty, "\(secret.prefix(6))… leaked")
            }
        }
        withExtendedLifetime(github) {}  // the emulator must outlive the stack
    }
}
