import Foundation
import Spool
import Testing
import TestSupport
@testable import Finisher

/// The Chat Completions generator against the scripted OpenAI-compatible stub on loopback
/// (Tests/Peers/openai_stub.py), which validates every request as OpenAI does and 400s otherwise.
struct GeneratorTests {
    typealias F = GeneratorFixtures

    static let page = "<!doctype html>\n<html><body><h1 id=\"total\">0</h1><script src=\"app.js\"></script></body></html>\n"

    @Test func aJSONAnswerBecomesTheTreeFromAValidRequestCarryingTheKey() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let answer = F.answer([
            "index.html": Self.page, "app.js": "document.querySelector('#total').textContent = '42';\n",
            "data/rates.json": "{\"tip\": 0.15}\n", ".github/workflows/ci.yml": "on: push\njobs: {}\n",
        ])
        let stub = try F.stub(key: key, script: ["steps": [[
            "expect": ["response_format": "json_schema", "model": "test-model", "system_contains": "# Answer format",
                       "last_user_contains": "Build a tip calculator."],
            "content": answer,
        ]]])
        let logs = LogRecorder()
        let tree = try await F.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 10).tree

        #expect(F.text(tree) == [
            "index.html": Self.page, "app.js": "document.querySelector('#total').textContent = '42';\n",
            "data/rates.json": "{\"tip\": 0.15}\n", ".github/workflows/ci.yml": "on: push\njobs: {}\n",
        ])
        let requests = try F.completions(stub)
        try #require(requests.count == 1)
        #expect(requests[0]["status"] as? Int == 200)
        #expect(requests[0]["path"] as? String == "/v1/chat/completions")
        let headers = (requests[0]["headers"] as? [String: String] ?? [:]).reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
        #expect(headers["authorization"] == "Bearer \(key)")
        #expect(headers["content-type"] == "application/json")
        let body = try #require(requests[0]["body"] as? [String: Any])
        #expect(body["model"] as? String == "test-model")
        #expect(F.messages(requests[0]).map(\.role) == ["system", "user"])
        let format = try #require(body["response_format"] as? [String: Any])
        let schema = try #require(format["json_schema"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema")
        #expect(schema["strict"] as? Bool == true)
        #expect(Set(body.keys) == ["model", "messages", "response_format", "max_tokens"])
        #expect(body["max_tokens"] as? Int == 16_384)

        // Usage is logged; the key is in no log line.
        let usage = try #require(logs.lines.first { $0.contains("chat completion") })
        #expect(usage.contains("prompt_tokens=") && usage.contains("completion_tokens=") && usage.contains("total_tokens="))
        #expect(!logs.all.contains(key))
    }

    @Test func thePromptCarriesTheBriefChecksAndEveryAttachment() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let rows = (0..<5000).map { "row-\($0),\($0 * 3)" }.joined(separator: "\n") + "\n"
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0xFF])
        let xlsx = Data([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0xFF, 0xFE])
        let attachments = [
            ReceivedAttachment(name: "uid.txt", mediaType: "text/plain", bytes: Data("uid-7f3a\n".utf8)),
            ReceivedAttachment(name: "sales.csv", mediaType: "text/csv", bytes: Data(rows.utf8)),
            ReceivedAttachment(name: "logo.png", mediaType: "image/png", bytes: png),
            ReceivedAttachment(name: "q1.xlsx", mediaType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", bytes: xlsx),
        ]
        let checks = ["document.querySelector(\"#total\").textContent.includes(`42`)", "Repo has MIT license"]
        let stub = try F.stub(key: key, script: ["steps": [[
            "content": F.answer(["index.html": Self.page, "uid.txt": "uid-7f3a", "LICENSE": "not ours"]),
        ]]])
        let brief = F.brief(checks: checks, attachments: attachments)
        let tree = try await F.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 10).tree

        let sent = try #require(try F.completions(stub).first)
        let user = try #require(F.messages(sent).last?.content)
        for check in checks { #expect(user.contains(check)) }
        #expect(user.contains("## uid.txt") && user.contains("uid-7f3a") && user.contains("URL ./uid.txt"))
        // A long text attachment keeps its head and tail; the middle is left out.
        #expect(user.contains("row-0,0") && user.contains("row-4999,14997") && !user.contains("row-2500,7500"))
        #expect(user.contains("left out"))
        #expect(user.contains("## logo.png") && user.contains("image/png, 13 bytes") && user.contains("Binary, not shown"))
        #expect(user.contains("## q1.xlsx") && user.contains("spreadsheet (binary)"))

        // LICENSE is the pipeline's, and a copy of an attachment (its final newline dropped) is
        // no replacement: the assembled repository carries the attachments byte for byte.
        #expect(Set(tree.keys) == ["index.html"])
        let documents = RepositoryDocuments(licenseHolder: "llm-deploy", year: 2025)
        let repository = try documents.assemble(GenerationReport(tree: tree), attachments: attachments, request: brief.request)
        for attachment in attachments { #expect(repository[attachment.name] == attachment.bytes) }
        #expect(String(decoding: repository["LICENSE"] ?? Data(), as: UTF8.self).hasPrefix("MIT License"))
    }

    @Test func oneFencedBlockPerFileIsReadWhenTheServerIgnoresTheSchema() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let content = """
            Here is the app.

            ```html index.html
            \(Self.page)```

            **style.css**
            ```css
            body { margin: 0; }
            ```

            ```js
            // app.js
            console.log("ready");
            ```

            Open index.html to use it.
            """
        let stub = try F.stub(key: key, script: ["steps": [["content": content]]])
        let tree = try await F.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 10).tree
        #expect(F.text(tree) == [
            "index.html": Self.page, "style.css": "body { margin: 0; }\n", "app.js": "// app.js\nconsole.log(\"ready\");\n",
        ])
        #expect(try F.completions(stub).count == 1)
    }

    @Test func jsonInsideAFenceIsRead() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let json = String(decoding: try JSONSerialization.data(withJSONObject: F.answer(["index.html": Self.page])), as: UTF8.self)
        let stub = try F.stub(key: key, script: ["steps": [["content": "Sure! Here you go:\n\n```json\n\(json)\n```\n"]]])
        let tree = try await F.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 10).tree
        #expect(F.text(tree) == ["index.html": Self.page])
    }

    @Test func malformedJSONGetsOneRepairCallQuotingTheError() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let broken = #"{"summary": "x", "files": [{"path": "index.html", "content": "<p>hi</p>"},, ]}"#
        let stub = try F.stub(key: key, script: ["steps": [
            ["content": broken],
            ["expect": ["last_user_contains": "the answer is not valid JSON"], "content": F.answer(["index.html": Self.page])],
        ]])
        let logs = LogRecorder()
        let tree = try await F.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 10).tree
        #expect(F.text(tree) == ["index.html": Self.page])

        let requests = try F.completions(stub)
        try #require(requests.count == 2)
        #expect(requests.allSatisfy { $0["status"] as? Int == 200 })
        let repair = F.messages(requests[1])
        #expect(repair.map(\.role) == ["system", "user", "assistant", "user"])
        #expect(repair[2].content == broken)
        // The exact parser error, with where it is.
        #expect(repair[3].content.contains("Invalid value around character"))
        #expect(repair[3].content.contains("line 1, column"))
        #expect(logs.lines.contains { $0.contains("repair succeeded") })
    }

    @Test func aTruncatedAnswerIsRepairedAskingForLess() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            ["finish_reason": "length", "content": #"{"summary": "x", "files": [{"path": "index.html", "content": "<p>"#],
            ["expect": ["last_user_contains": "cut off"], "content": F.answer(["index.html": Self.page])],
        ]])
        let tree = try await F.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 10).tree
        #expect(F.text(tree) == ["index.html": Self.page])
        let repair = try #require(F.messages(try F.completions(stub)[1]).last?.content)
        #expect(repair.contains("finish_reason \"length\"") && repair.contains("Keep it short enough to fit"))
    }

    @Test func unsafePathsAreRejectedAndTheRepairNamesEachOne() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let unsafe = ["../escape.txt", "/etc/cron.d/job.txt", ".git/hooks/post-checkout.sh", "a/../../b.txt", "logo.png"]
        var first = F.answer(["index.html": Self.page])
        first["files"] = (first["files"] as! [[String: String]]) + unsafe.map { ["path": $0, "content": "x"] }
        let stub = try F.stub(key: key, script: ["steps": [
            ["content": first],
            ["content": F.answer(["index.html": Self.page, "app.js": "1;\n"])],
        ]])
        let tree = try await F.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 10).tree
        #expect(Set(tree.keys) == ["index.html", "app.js"])

        let repair = try #require(F.messages(try F.completions(stub)[1]).last?.content)
        #expect(repair.contains("path \"../escape.txt\" has an empty, . or .. component"))
        #expect(repair.contains("path \"/etc/cron.d/job.txt\" is absolute"))
        #expect(repair.contains("path \".git/hooks/post-checkout.sh\" is inside .git"))
        #expect(repair.contains("path \"a/../../b.txt\" has an empty, . or .. component"))
        #expect(repair.contains("path \"logo.png\" is a binary format"))
    }

    @Test func whenTheRepairIsStillUnsafeOnlyTheSafeFilesAreKept() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let answer = F.answer(["index.html": Self.page, "../outside.html": "<p>no</p>"])
        let stub = try F.stub(key: key, script: ["steps": [["content": answer], ["content": answer]]])
        let logs = LogRecorder()
        let tree = try await F.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 10).tree
        #expect(F.text(tree) == ["index.html": Self.page])
        #expect(try F.completions(stub).count == 2)
        #expect(logs.lines.contains { $0.contains("using the valid part of an answer") })
    }

    @Test func aRateLimitIsWaitedOutAsRetryAfterSays() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            ["status": 429, "retry_after": 1],
            ["content": F.answer(["index.html": Self.page])],
        ]])
        let logs = LogRecorder()
        let started = Date()
        let tree = try await F.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 10).tree
        let elapsed = Date().timeIntervalSince(started)
        #expect(F.text(tree) == ["index.html": Self.page])
        #expect(elapsed >= 0.95, "retried after \(elapsed) s, before the 1 s Retry-After")
        #expect(try F.completions(stub).map { $0["status"] as? Int } == [429, 200])
        #expect(logs.lines.contains { $0.contains("retrying") && $0.contains("retry_in=1.0") })
    }

    @Test func serverErrorsPastTheBudgetFailInTime() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [], "default": ["status": 503]])
        let logs = LogRecorder()
        let started = Date()
        do {
            // A budget roomy enough for two attempts even while other suites load the machine.
            _ = try await F.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 5).tree
            Issue.record("a failing server produced files")
        } catch {
            #expect(error.isTransient)
            #expect(error.description.contains("HTTP 503: The engine is currently overloaded"))
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 15, "gave up after \(elapsed) s with a 5 s budget")
        // Retried with back-off (0.2 s, 0.4 s, …) until the next wait would overrun the budget; how
        // many attempts fit depends on the machine's load (retrying itself is the 429 test's).
        let statuses = try F.completions(stub).map { $0["status"] as? Int }
        #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == 503 }, "\(statuses); \(logs.all)")
        #expect(logs.lines.contains { $0.contains("no time left to retry") }, "\(logs.all)")
    }

    @Test func aServerThatNeverAnswersTimesOutWithinTheBudget() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [], "default": ["hang": true]])
        let started = Date()
        do {
            _ = try await F.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 2).tree
            Issue.record("a hanging server produced files")
        } catch {
            #expect(error.isTransient)
            #expect(error.description.contains("no answer from the LLM within the generation budget"))
        }
        let elapsed = Date().timeIntervalSince(started)
        // It gives up near the budget, not at the 600 s hang: the bound is loose because other
        // suites share the machine (speed itself is for the benchmarks).
        #expect(elapsed < 12, "gave up after \(elapsed) s with a 2 s budget")
    }

    @Test func roundTwoSeesTheRepositoryAndGetsTheWholeNewTreeBack() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF])
        let readme = "# tip-calculator\n\n## Summary\n\nA tip calculator.\n"
        let existing: [String: Data] = [
            "index.html": Data("<h1>old page</h1>\n".utf8), "README.md": Data(readme.utf8), "old.js": Data("legacy();\n".utf8),
            "lib/util.js": Data("export {}\n".utf8), "LICENSE": Data("MIT License\n".utf8), "logo.png": png,
        ]
        let stub = try F.stub(key: key, script: ["steps": [[
            "expect": ["system_contains": "# Changing an existing repository", "last_user_contains": "<h1>old page</h1>"],
            "content": F.answer(["index.html": Self.page, "app.js": "1;\n"], delete: ["old.js", "lib/", "LICENSE", "missing.txt"],
                                summary: "Added a total."),
        ]]])
        let brief = F.brief(round: 2, text: "Add a running total.", existing: existing)
        let report = try await F.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 10)
        let tree = report.tree

        #expect(Set(tree.keys) == ["index.html", "app.js", "README.md", "LICENSE", "logo.png"])
        #expect(tree["index.html"] == Data(Self.page.utf8))
        #expect(tree["logo.png"] == png)
        #expect(tree["LICENSE"] == existing["LICENSE"])
        // The model left README.md alone, so the assembled tree describes the change for it.
        #expect(!report.wroteReadme && report.summary == "Added a total.")
        let assembled = try RepositoryDocuments(licenseHolder: "llm-deploy", year: 2026).assemble(report, attachments: [], request: brief.request)
        let updated = String(decoding: assembled["README.md"]!, as: UTF8.self)
        #expect(updated.hasPrefix(readme) && updated.contains("## Round 2 changes") && updated.contains("Added a total."))
        #expect(updated.contains("> Add a running total."))

        let user = try #require(F.messages(try F.completions(stub)[0]).last?.content)
        #expect(user.contains("## old.js") && user.contains("legacy();") && user.contains("## lib/util.js"))
        #expect(user.contains("logo.png (binary, 6 bytes)"))
        #expect(!user.contains("## LICENSE"))
        #expect(user.contains("# Brief\n\nAdd a running total."))
    }

    @Test func aServerThatRefusesResponseFormatStepsDownToJSONModeThenToFencedFiles() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            ["status": 400, "param": "response_format", "message": "response_format of type json_schema is not supported"],
            ["expect": ["response_format": "json_object"], "status": 400, "param": "response_format", "message": "json_object is not supported either"],
            ["expect": ["response_format": "none", "system_contains": "its own fenced code block"], "content": "Built it.\n\n```html index.html\n\(Self.page)```\n"],
        ]])
        let generator = F.generator(stub, key: key, logs: LogRecorder())
        let tree = try await generator.generate(F.brief(), budget: 10).tree
        #expect(F.text(tree) == ["index.html": Self.page])
        let formats = try F.completions(stub).compactMap { ($0["body"] as? [String: Any]).map { ($0["response_format"] as? [String: Any])?["type"] as? String } }
        #expect(formats == ["json_schema", "json_object", nil])
        #expect(generator.client.known(model: "test-model").output == .plain)
    }

    @Test func aRefusedKeyFailsWithoutRevealingIt() async throws {
        let key = "sk-wrong-\(UUID().uuidString)-secret"
        let stub = try F.stub(key: "sk-right-key-0000", script: ["default": ["content": F.answer(["index.html": Self.page])]])
        let logs = LogRecorder()
        do {
            _ = try await F.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 5).tree
            Issue.record("a refused key produced files")
        } catch {
            #expect(!error.isTransient)
            #expect(error.description.contains("refused the API key") && error.description.contains("OPENAI_API_KEY"))
            #expect(!error.description.contains(key))
        }
        #expect(try F.completions(stub).map { $0["status"] as? Int } == [401])
        #expect(!logs.all.contains(key))
    }
}
