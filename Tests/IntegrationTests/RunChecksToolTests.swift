import Foundation
import Testing
import TestSupport

/// `run_checks` in the real Finisher's tool loop: a scripted model behind it, the tree served by
/// nginx and loaded by real headless Chromium. The model's steps are fixed in advance, so what is
/// tested is that the failure reaches the model and the fix is published, not a model's reading.
@Suite(.serialized) struct RunChecksToolTests {
    static func calls(_ calls: [(String, String, [String: Any])], expect: [String: Any]? = nil) -> [String: Any] {
        var step: [String: Any] = ["tool_calls": calls.map { ["id": $0.0, "name": $0.1, "arguments": $0.2] }]
        if let expect { step["expect"] = expect }
        return step
    }

    /// The `tool` messages of a recorded request, by `tool_call_id`.
    static func toolResults(_ record: [String: Any]) -> [String: String] {
        let messages = (record["body"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
        var results: [String: String] = [:]
        for message in messages where message["role"] as? String == "tool" {
            if let id = message["tool_call_id"] as? String { results[id] = message["content"] as? String ?? "" }
        }
        return results
    }

    static func offered(_ record: [String: Any]) -> [String] {
        let tools = (record["body"] as? [String: Any])?["tools"] as? [[String: Any]] ?? []
        return tools.compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
    }

    static func system(_ record: [String: Any]) -> String {
        let messages = (record["body"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
        return messages.first { $0["role"] as? String == "system" }?["content"] as? String ?? ""
    }

    static let checks = ["js: document.querySelector('#total').textContent === '42'", "js: document.title === 'Sales'"]
    /// A wrong id (the check's querySelector finds nothing) and an image that is not there.
    static let broken = "<!doctype html><title>Sales</title><h1 id=\"sum\">42</h1><img src=\"missing.png\" alt=\"\">"
    static let fixed = "<!doctype html><title>Sales</title><h1 id=\"total\">42</h1>"

    @Test func theModelRunsTheChecksSeesTheFailureAndPublishesItsFix() throws {
        let steps = [
            Self.calls([("w1", "write_file", ["path": "index.html", "content": Self.broken]), ("r1", "run_checks", [:])],
                       expect: ["has_tools": true, "system_contains": "run_checks()"]),
            Self.calls([("w2", "write_file", ["path": "index.html", "content": Self.fixed]), ("bad", "run_checks", ["checks": [3]]),
                        ("r2", "run_checks", ["checks": [1]])],
                       expect: ["tool_result_contains": "Check 1: failed"]),
            // The third run is the last one allowed.
            Self.calls([("r3", "run_checks", [:]), ("r4", "run_checks", [:])], expect: ["tool_result_contains": "1 of 1 checks passed"]),
            Self.calls([("f", "finish", ["summary": "A sales page."])], expect: ["tool_result_contains": "2 of 2 checks passed"]),
        ]
        try CheckStageTests.withModel(steps) { stack, model, evaluator in
            let id = try stack.submit(["task": "selfcheck", "nonce": "s", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log.suffix(3000))")

            // The request after the first run carried the failure, its reason and the page's evidence.
            let requests = try CheckStageTests.generations(model)
            try #require(requests.count == 4)
            #expect(requests.allSatisfy { Self.offered($0).contains("run_checks") })
            let first = try #require(Self.toolResults(requests[1])["r1"])
            #expect(first.contains("under /selfcheck/") && first.contains("1 of 2 checks passed"), "\(first)")
            #expect(first.contains("- Check 1: failed — threw TypeError"), "\(first)")
            #expect(first.contains("- Check 2: passed"))
            #expect(first.contains("missing.png") && first.contains("404"), "\(first)")
            #expect(first.hasSuffix("(2 run_checks calls left.)"))
            #expect(!first.contains("<h1") && first.utf8.count < 4_100)
            // A number that names no check is refused without a run; the fourth run is refused.
            let results = Self.toolResults(requests[3])
            #expect(results["bad"] == "Refused: run_checks' \"checks\" is a list of check numbers from 1 to 2, or left out to run every check")
            let second = try #require(results["r2"])
            #expect(second.contains("1 of 1 checks passed") && second.contains("- Check 1: passed") && !second.contains("Check 2"))
            #expect(second.hasSuffix("(1 run_checks call left.)"))
            #expect(results["r3"]?.contains("2 of 2 checks passed") == true && results["r3"]?.contains("request:") == false)
            #expect(results["r4"] == "Refused: run_checks was called 3 times, the most allowed: fix what the last run showed, then call finish")

            // Journaled like the other tools; the final gate agrees and the fix is what was published.
            let calls = try #require(try stack.journal(id)["tool_calls"] as? [[String: Any]])
            #expect(calls.map { $0["name"] as? String } == ["write_file", "run_checks", "write_file"] + Array(repeating: "run_checks", count: 4) + ["finish"])
            #expect(calls.map { $0["outcome"] as? String } == ["ok", "ok", "ok", "refused", "ok", "ok", "refused", "ok"])
            #expect(calls[4]["arguments"] as? String == #"{"checks":[1]}"#)
            let attempts = try #require(try CheckStageTests.checkRecord(stack, id)["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["summary"] as? String } == ["checks 2/2"])
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/selfcheck/")
            #expect(page.text.contains("id=\"total\""))

            // The loop's browser is gone, and so is the tree it served.
            let runs = "\(stack.home)/data/check/"
            #expect(ChildProcessTable.commandLines().filter { $0.contains(runs) }.isEmpty)
            let served = try FileManager.default.subpathsOfDirectory(atPath: "\(stack.home)/data").filter { $0.hasSuffix("tool-checks") }
            #expect(served.isEmpty, "\(served)")
        }
    }

    @Test func aRepairTurnRunsTheChecksInTheCheckStagesOwnBrowser() throws {
        let steps = [
            // Finishes without running the checks: the final gate catches the wrong id.
            Self.calls([("w1", "write_file", ["path": "index.html", "content": Self.broken]), ("f1", "finish", ["summary": "s"])]),
            Self.calls([("w2", "write_file", ["path": "index.html", "content": Self.fixed]), ("r1", "run_checks", [:])],
                       expect: ["last_user_contains": "did not pass", "system_contains": "run_checks()"]),
            Self.calls([("f2", "finish", ["summary": "Fixed the id."])], expect: ["tool_result_contains": "2 of 2 checks passed"]),
        ]
        try CheckStageTests.withModel(steps) { stack, model, evaluator in
            let id = try stack.submit(["task": "repairrun", "nonce": "p", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log.suffix(3000))")
            #expect(try CheckStageTests.generations(model).count == 3)
            // The stage's browser was still usable after the repair's run_checks: the second attempt ran.
            let attempts = try #require(try CheckStageTests.checkRecord(stack, id)["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["summary"] as? String } == ["checks 1/2", "checks 2/2"])
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/repairrun/")
            #expect(page.text.contains("id=\"total\""))
            #expect(ChildProcessTable.commandLines().filter { $0.contains("\(stack.home)/data/check/") }.isEmpty)
        }
    }

    @Test func withChecksOffTheToolIsNotOffered() throws {
        let steps = [
            Self.calls([("w1", "write_file", ["path": "index.html", "content": Self.fixed]), ("r1", "run_checks", [:])]),
            Self.calls([("f", "finish", ["summary": "A sales page."])], expect: ["tool_result_contains": "there is no tool"]),
        ]
        try CheckStageTests.withModel(steps, environment: ["LLM_DEPLOY_CHECKS": "off"]) { stack, model, evaluator in
            let id = try stack.submit(["task": "nocheck", "nonce": "n", "checks": Self.checks, "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log.suffix(3000))")
            let requests = try CheckStageTests.generations(model)
            try #require(requests.count == 2)
            #expect(requests.allSatisfy { !Self.offered($0).contains("run_checks") && Self.offered($0).contains("write_file") })
            #expect(requests.allSatisfy { !Self.system($0).contains("run_checks") })
            #expect(Self.toolResults(requests[1])["r1"]?.hasPrefix("Refused: there is no tool \"run_checks\"") == true)
            #expect(try CheckStageTests.checkRecord(stack, id)["skipped"] as? String == "skipped: LLM_DEPLOY_CHECKS=off")
        }
    }
}
