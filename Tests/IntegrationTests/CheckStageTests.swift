import Foundation
import Testing
import TestSupport

/// The check stage in the real Finisher: a scripted model behind it, the tree served by nginx
/// and loaded by real headless Chromium through chromedriver, published by the local forge.
/// The scripted answers are fixed in advance, whatever the prompt says: what is tested is the
/// loop (run, feed back, keep the best), not a model's reading of the feedback.
@Suite(.serialized) struct CheckStageTests {
    static func answer(_ index: String) throws -> [String: Any] {
        let object: [String: Any] = ["summary": "s", "files": [["path": "index.html", "content": index]], "delete": []]
        return ["content": String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)]
    }

    /// The judge's answer for the prose check (number 1 of the prose checks), as the stub
    /// sends it; it expects the judge's request, not a generation.
    static func verdict(_ passed: Bool, _ reason: String) throws -> [String: Any] {
        let object: [String: Any] = ["verdicts": [["check": 1, "passed": passed, "reason": reason]]]
        return ["content": String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self),
                "expect": ["response_format": "json_schema", "system_contains": "strict grader"]]
    }

    static func generations(_ model: Peer) throws -> [[String: Any]] {
        try model.requests().filter {
            ($0["path"] as? String)?.hasSuffix("/chat/completions") == true && !String(describing: $0["body"] ?? "").contains("strict grader")
        }
    }

    static func withModel(
        _ steps: [[String: Any]], otherwise: [String: Any]? = nil, environment: [String: String] = [:], _ body: (LocalStack, Peer, Peer) throws -> Void
    ) throws {
        let root = Paths.temporaryDirectory("check-model")
        let key = "sk-test-\(UUID().uuidString)"
        var script: [String: Any] = ["steps": steps]
        if let otherwise { script["default"] = otherwise }
        try JSONSerialization.data(withJSONObject: script).write(to: URL(fileURLWithPath: "\(root)/script.json"))
        let model = try Peer("openai_stub.py", ["--key", key, "--script", "\(root)/script.json"])
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: ["OPENAI_BASE_URL": "\(model.url)/v1", "OPENAI_API_KEY": key, "LLM_DEPLOY_MODEL": "stub-model"]
            .merging(environment) { _, new in new }) { stack in
            try body(stack, model, evaluator)
        }
    }

    static func checkRecord(_ stack: LocalStack, _ id: String) throws -> [String: Any] {
        try #require(try stack.journal(id)["checks"] as? [String: Any])
    }

    static func status(_ stack: LocalStack, _ id: String) throws -> [String: Any] {
        let run = try stack.finisher(["status", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(run.log.utf8)) as? [[String: Any]] ?? []
        return try #require(rows.first { $0["id"] as? String == id })
    }

    static let checks = [
        "js: document.querySelector('#total').textContent === '42'",
        "js: document.title === 'Sales'",
        "Repo has MIT license",
    ]

    @Test func aFailedCheckGoesBackToTheModelAndTheRepairIsPublished() throws {
        let steps = [
            // A wrong id: the check's querySelector finds nothing; the judge fails the prose check.
            try Self.answer("<!doctype html><title>Sales</title><h1 id=\"sum\">42</h1>"),
            try Self.verdict(false, "README.md does not mention the licence"),
            try Self.answer("<!doctype html><title>Sales</title><h1 id=\"total\">42</h1>"),
            try Self.verdict(true, "LICENSE holds the MIT text"),
        ]
        try Self.withModel(steps) { stack, model, evaluator in
            let id = try stack.submit(["task": "repaired", "nonce": "r", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log.suffix(3000))")
            let record = try Self.checkRecord(stack, id)
            let attempts = try #require(record["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["summary"] as? String } == ["checks 1/3", "checks 3/3"])
            let judged = try #require((attempts[0]["results"] as? [[String: Any]])?.last)
            #expect(judged["status"] as? String == "failed" && judged["reason"] as? String == "judged: README.md does not mention the licence")
            let first = try #require((attempts[0]["results"] as? [[String: Any]])?.first)
            #expect(first["status"] as? String == "failed")
            #expect((first["reason"] as? String)?.hasPrefix("threw TypeError") == true)
            #expect(record["kept"] as? Int == 2)

            // The second generation carried the failures, with their reasons, to the model.
            let requests = try Self.generations(model)
            #expect(requests.count == 2)
            let second = String(describing: requests.last?["body"] ?? "")
            #expect(second.contains("did not pass") && second.contains("#total") && second.contains("TypeError"))
            #expect(second.contains("does not mention the licence"))

            // What was published and notified is the repair.
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/repaired/")
            #expect(page.text.contains("id=\"total\""))
            let notified = try evaluator.requests().compactMap { $0["json"] as? [String: Any] }
            #expect(notified.count == 1)
            let sha = try #require(notified.first?["commit_sha"] as? String)
            let clone = "\(stack.home)/clone-repaired"
            _ = try stack.git(["clone", "--quiet", try #require(notified.first?["repo_url"] as? String), clone])
            #expect(try stack.git(["rev-parse", "HEAD"], in: clone) == sha)
            #expect(try String(contentsOfFile: "\(clone)/index.html", encoding: .utf8).contains("id=\"total\""))

            let status = try Self.status(stack, id)
            #expect(status["checks"] as? String == "checks 3/3")
            #expect(status["check_attempts"] as? Int == 2)
            #expect((status["check_results"] as? [[String: Any]])?.map { $0["status"] as? String } == ["passed", "passed", "passed"])
            #expect(status["pages_verified"] as? Bool == true)
            let table = try stack.finisher(["status"]).log
            #expect(table.contains("checks 3/3"))
        }
    }

    @Test func aRepairThatPassesFewerChecksIsNotPublished() throws {
        let steps = [
            try Self.answer("<!doctype html><title>Sales</title><h1 id=\"sum\">42</h1><p>first</p>"),
            try Self.verdict(true, "LICENSE holds the MIT text"),
            // Fixes the id but breaks the title: two passing checks either way, so the later wins the tie…
            try Self.answer("<!doctype html><title>Sale</title><h1 id=\"total\">42</h1><p>second</p>"),
            try Self.verdict(true, "LICENSE holds the MIT text"),
            // …and this one passes only the prose check: never published.
            try Self.answer("<!doctype html><title>x</title><h1 id=\"sum\">0</h1><p>third</p>"),
            try Self.verdict(true, "LICENSE holds the MIT text"),
        ]
        try Self.withModel(steps) { stack, model, evaluator in
            let id = try stack.submit(["task": "kept", "nonce": "k", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let record = try Self.checkRecord(stack, id)
            let attempts = try #require(record["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["summary"] as? String } == ["checks 2/3", "checks 2/3", "checks 1/3"])
            #expect(record["kept"] as? Int == 2)
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/kept/")
            #expect(page.text.contains("second") && !page.text.contains("third"))
            #expect(try evaluator.requests().count == 1)
            #expect(try Self.status(stack, id)["checks"] as? String == "checks 2/3")
        }
    }

    @Test func roundTwoThatBreaksRoundOneIsCaughtAndRepaired() throws {
        let steps = [
            try Self.answer("<!doctype html><title>Sales</title><h1 id=\"total\">42</h1>"),
            // Round 2 adds the chart and loses round 1's total.
            try Self.answer("<!doctype html><title>Sales</title><h1>Sales</h1><canvas id=\"chart\"></canvas>"),
            try Self.answer("<!doctype html><title>Sales</title><h1 id=\"total\">42</h1><canvas id=\"chart\"></canvas>"),
        ]
        try Self.withModel(steps) { stack, _, evaluator in
            let one = try stack.submit(["task": "regress", "nonce": "1", "checks": [Self.checks[0]], "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(one)"))
            let two = try stack.submit(["task": "regress", "round": 2, "nonce": "2", "checks": ["js: !!document.querySelector('#chart')"],
                                        "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(two)"))
            let attempts = try #require(try Self.checkRecord(stack, two)["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["summary"] as? String } == ["checks 1/1; regression 0/1", "checks 1/1; regression 1/1"])
            let regression = try #require((attempts[0]["regression"] as? [[String: Any]])?.first)
            #expect(regression["round"] as? Int == 1 && regression["check"] as? String == Self.checks[0] && regression["status"] as? String == "failed")
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/regress/")
            #expect(page.text.contains("id=\"total\"") && page.text.contains("id=\"chart\""))
        }
    }

    @Test func aModelThatNeverGetsItRightIsBoundedByAttemptsAndTheDeadline() throws {
        let wrong = try Self.answer("<!doctype html><title>Sales</title><h1 id=\"sum\">42</h1>")
        // Two attempts allowed: the first tree and one repair, then the best is published.
        try Self.withModel([], otherwise: wrong, environment: ["LLM_DEPLOY_CHECK_ATTEMPTS": "2"]) { stack, model, evaluator in
            let id = try stack.submit(["task": "never", "nonce": "n", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let attempts = try #require(try Self.checkRecord(stack, id)["attempts"] as? [[String: Any]])
            #expect(attempts.count == 2)
            #expect(try Self.generations(model).count == 2)
            // The judge got a generation's answer, not verdicts: the prose check stays open.
            #expect((attempts[1]["results"] as? [[String: Any]])?.last?["status"] as? String == "needs_judgement")
            #expect(try evaluator.requests().count == 1)
        }
        // 180 s to the deadline, 120 of them kept for publishing: no time for a 60 s repair.
        try Self.withModel([], otherwise: wrong, environment: ["LLM_DEPLOY_DEADLINE": "180"]) { stack, _, evaluator in
            let id = try stack.submit(["task": "late", "nonce": "l", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let attempts = try #require(try Self.checkRecord(stack, id)["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["summary"] as? String } == ["checks 1/2, 1 to judge"])
            #expect(try evaluator.requests().count == 1)
        }
    }

    @Test func withoutChromiumTheTaskGoesOn() throws {
        try withStack(environment: ["LLM_DEPLOY_CHROMIUM": "/nonexistent/chromium"]) { stack in
            let evaluator = try Peer("evaluator.py")
            let id = try stack.submit(["task": "nochrome", "nonce": "n", "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try Self.checkRecord(stack, id)["skipped"] as? String == "skipped: chromium not found")
            #expect(try Self.status(stack, id)["checks"] as? String == "checks skipped: chromium not found")
            #expect(try evaluator.requests().count == 1)
        }
    }

    @Test func aFinisherKilledDuringTheChecksLeavesNoBrowserAfterRecover() throws {
        try withStack { stack in
            let evaluator = try Peer("evaluator.py")
            // A check that takes a while, so the Finisher is killed while Chromium runs it.
            let id = try stack.submit(["task": "killed", "nonce": "k", "evaluation_url": "\(evaluator.url)/n",
                                       "checks": ["js: new Promise(r => setTimeout(() => r(true), 4000))"]])
            let finisher = try ChildProcess(Paths.product("llm-deploy-finisher"), ["drain"], environment: stack.environment,
                                            logPath: "\(stack.home)/log/finisher-killed.log")
            let runs = "\(stack.home)/data/check/"
            let browsers = { ChildProcessTable.commandLines().filter { $0.contains("--user-data-dir=\(runs)") } }
            #expect(eventually(timeout: 60) { !browsers().isEmpty }, "\(finisher.log.suffix(2000))")
            finisher.stop(signal: SIGKILL)
            #expect(!browsers().isEmpty, "Chromium outlives a killed Finisher until recovered")
            let run = try stack.finisher(["recover"])
            #expect(browsers().isEmpty, "\(run.log.suffix(2000))")
            #expect(ChildProcessTable.commandLines().filter { $0.contains(runs) }.isEmpty)
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log.suffix(2000))")
            #expect(try Self.status(stack, id)["checks"] as? String == "checks 1/1")
        }
    }
}

/// Command lines of live processes, from /proc.
enum ChildProcessTable {
    static func commandLines() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.filter { Int($0) != nil }.compactMap { name in
            guard let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].split(separator: " ").first != "Z",
                  let raw = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(name)/cmdline")) else { return nil }
            return String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        }
    }
}
