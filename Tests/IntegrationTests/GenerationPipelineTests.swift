import Foundation
import Testing
import TestSupport

/// The generate and scan stages with a scripted LLM behind the real engine.
@Suite(.serialized) struct GenerationPipelineTests {
    static func answer(_ index: String) throws -> String {
        let object: [String: Any] = ["summary": "s", "files": [["path": "index.html", "content": index]], "delete": []]
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    static func withModel(_ script: [String: Any], environment: [String: String] = [:], _ body: (LocalStack, Peer, Peer) throws -> Void) throws {
        let root = Paths.temporaryDirectory("model")
        let key = "sk-test-\(UUID().uuidString)"
        try JSONSerialization.data(withJSONObject: script).write(to: URL(fileURLWithPath: "\(root)/script.json"))
        let model = try Peer("openai_stub.py", ["--key", key, "--script", "\(root)/script.json"])
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: ["OPENAI_BASE_URL": "\(model.url)/v1", "OPENAI_API_KEY": key, "LLM_DEPLOY_MODEL": "stub-model"]
            .merging(environment) { _, new in new }) { stack in
            try body(stack, model, evaluator)
        }
    }

    /// A credential-shaped string from the model: asked once more, told why; the clean answer ships.
    @Test func aModelThatWritesACredentialIsAskedOnceMore() throws {
        let leaked = "ghp_" + String(repeating: "Z", count: 36)
        let script: [String: Any] = ["steps": [
            ["content": try Self.answer("<h1>one</h1><script>const token = '\(leaked)';</script>")],
            ["content": try Self.answer("<h1>clean</h1>")],
        ]]
        try Self.withModel(script) { stack, model, evaluator in
            let id = try stack.submit(["task": "regen", "nonce": "r", "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/regen/")
            #expect(page.text.contains("clean") && !page.text.contains(leaked))
            let requests = try model.requests().filter { ($0["path"] as? String)?.hasSuffix("/chat/completions") == true }
            #expect(requests.count == 2)
            let second = String(describing: requests.last?["body"] ?? "")
            #expect(second.contains("index.html:1: github-token") && !second.contains(leaked))
        }
    }

    /// A model that writes a credential twice: rather than fail the task unnotified, the
    /// offline template (which has none) is published and the sender is notified.
    @Test func aModelThatKeepsWritingACredentialIsReplacedByTheTemplate() throws {
        let leaked = "ghp_" + String(repeating: "Q", count: 36)
        let leaky = try Self.answer("<script>const token = '\(leaked)';</script>")
        try Self.withModel(["steps": [["content": leaky], ["content": leaky]]]) { stack, model, evaluator in
            let id = try stack.submit(["task": "leaky", "nonce": "k", "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect((try stack.journal(id)["outputs"] as? [String: Any])?["generator"] as? String == "template")
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/leaky/")
            #expect(page.text.contains("no language model was used") && !page.text.contains(leaked))
            #expect(try evaluator.requests().count == 1)
            #expect(try model.requests().filter { ($0["path"] as? String)?.hasSuffix("/chat/completions") == true }.count == 2)
        }
    }

    /// A model that keeps failing: the engine falls back to the offline template within the
    /// generation budget and still publishes and notifies.
    @Test func aFailingModelFallsBackToTheTemplate() throws {
        try Self.withModel(["steps": [], "default": ["status": 503]], environment: ["LLM_DEPLOY_DEADLINE": "130"]) { stack, _, evaluator in
            let id = try stack.submit(["task": "fallback", "nonce": "f", "evaluation_url": "\(evaluator.url)/n"])
            try stack.finisher(["drain"], timeout: 90)
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let outputs = try stack.journal(id)["outputs"] as? [String: Any]
            #expect(outputs?["generator"] as? String == "template")
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/fallback/")
            #expect(page.text.contains("no language model was used"))
            #expect(try evaluator.requests().count == 1)
        }
    }

    /// A model that works through tools: its calls land in the journal, redacted, and its files ship.
    @Test func toolCallsAreJournaled() throws {
        let script: [String: Any] = ["steps": [
            ["tool_calls": [["name": "write_file", "arguments": ["path": "index.html", "content": "<h1>from tools</h1>"]]]],
            ["tool_calls": [["name": "finish", "arguments": ["summary": "done"]]]],
        ]]
        try Self.withModel(script) { stack, _, evaluator in
            let id = try stack.submit(["task": "tooled", "nonce": "t", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            let journal = try stack.journal(id)
            let calls = try #require(journal["tool_calls"] as? [[String: Any]])
            #expect(calls.map { $0["name"] as? String } == ["write_file", "finish"])
            #expect(calls.allSatisfy { $0["outcome"] as? String == "ok" })
            let arguments = calls.first?["arguments"] as? String ?? ""
            #expect(arguments.contains("index.html"))
            #expect(!arguments.contains("from tools"), "file contents are not journaled")
            #expect((journal["outputs"] as? [String: Any])?["generation_mode"] as? String == "tools")
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/tooled/")
            #expect(page.text.contains("from tools"))
        }
    }
}
