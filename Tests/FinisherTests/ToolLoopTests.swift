import Foundation
import Spool
import Testing
import TestSupport
@testable import Fetch
@testable import Finisher

/// The tool loop against the scripted OpenAI-compatible stub (Tests/Peers/openai_stub.py), which
/// validates every request (tools, assistant tool calls, tool messages answering each call id) as
/// OpenAI does, and a loopback fixture server for `fetch_url`.
struct ToolLoopTests {
    typealias F = GeneratorFixtures
    typealias T = ToolLoopFixtures

    static let page = GeneratorTests.page
    static let xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    @Test func fetchReadWritesAndADeleteThenFinishGiveExactlyTheTreeTheModelWrote() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let fixture = try FixtureServer(files: ["data.json": #"{"city": "Chennai", "max": 42, "min": 19}"#])
        defer { fixture.stop() }
        let workbook = try T.scoresWorkbook()
        let attachments = [ReceivedAttachment(name: "scores.xlsx", mediaType: Self.xlsxType, bytes: workbook)]
        let dataJSON = "{\"max\": 42, \"min\": 19}\n"
        let readme = "# Scores\n\n## Summary\n\nWeather extremes and the scores table.\n"
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([("c1", "list_files", [:]), ("c2", "fetch_url", ["url": "\(fixture.url)/data.json"]), ("c3", "read_file", ["path": "scores.xlsx"])],
                    expect: ["has_tools": true, "response_format": "none", "system_contains": "# Working with tools",
                             "last_user_contains": "Convert scores.xlsx"]),
            T.calls([("c4", "write_file", ["path": "data.json", "content": dataJSON]),
                     ("c5", "write_file", ["path": "scores.csv", "content": T.scoresCSV]),
                     ("c6", "write_file", ["path": "index.html", "content": Self.page]),
                     ("c7", "write_file", ["path": "notes/draft.txt", "content": "scratch\n"])],
                    expect: ["tool_result_contains": "\"max\": 42"]),
            T.calls([("c8", "delete_file", ["path": "notes/draft.txt"]), ("c9", "write_file", ["path": "README.md", "content": readme])]),
            T.calls([("c10", "finish", ["summary": "Fetched the extremes and converted the workbook."])]),
        ]])
        let logs = LogRecorder()
        let brief = F.brief(text: "Fetch the city's data and save max and min into data.json. Convert scores.xlsx to scores.csv.",
                            attachments: attachments)
        let generator = try T.generator(stub, key: key, logs: logs, allow: "127.0.0.1:\(fixture.port)")
        let report = try await generator.generate(brief, budget: 60)

        #expect(report.mode == .tools)
        #expect(F.text(report.tree) == ["data.json": dataJSON, "scores.csv": T.scoresCSV, "index.html": Self.page, "README.md": readme])
        // What the pipeline adds: the attachment byte for byte, our LICENSE, the README's missing sections.
        let repository = try RepositoryDocuments(licenseHolder: "llm-deploy", year: 2025)
            .assemble(report, attachments: attachments, request: brief.request)
        #expect(Set(repository.keys) == ["data.json", "scores.csv", "index.html", "README.md", "scores.xlsx", "LICENSE"])
        #expect(repository["scores.xlsx"] == workbook)
        #expect(String(decoding: repository["LICENSE"]!, as: UTF8.self).hasPrefix("MIT License"))
        let assembledReadme = String(decoding: repository["README.md"]!, as: UTF8.self)
        #expect(assembledReadme.hasPrefix(readme) && assembledReadme.contains("## Usage") && assembledReadme.contains("## License"))

        // Every request was valid (the stub answers 400 otherwise), offered the six tools, and
        // carried each result back in a tool message.
        let requests = try F.completions(stub)
        try #require(requests.count == 4)
        #expect(requests.allSatisfy { $0["status"] as? Int == 200 })
        #expect(requests.allSatisfy { T.offeredTools($0) == GeneratorTools.names.filter { $0 != "run_checks" } })
        #expect(requests.allSatisfy { ($0["body"] as? [String: Any])?["response_format"] == nil })
        let results = T.toolResults(requests[3])
        let listing = try #require(results["c1"])
        #expect(listing.contains("scores.xlsx\t") && listing.contains("first sheet as CSV"))
        let fetched = try #require(results["c2"])
        #expect(fetched.hasPrefix("HTTP 200 from \(fixture.url)/data.json\n"))
        #expect(fetched.contains("Content-Type: application/json") && fetched.contains("all shown"))
        #expect(fetched.hasSuffix(#"{"city": "Chennai", "max": 42, "min": 19}"#))
        #expect(results["c3"] == T.scoresCSV)
        #expect(results["c5"] == "Wrote scores.csv (\(T.scoresCSV.utf8.count) bytes).")
        #expect(results["c8"] == "Deleted notes/draft.txt.")

        // The fixture saw one GET with our User-Agent and none of our credentials.
        let served = try fixture.requests()
        try #require(served.count == 1)
        #expect(served[0]["path"] as? String == "/data.json")
        let headers = (served[0]["headers"] as? [String: String] ?? [:]).reduce(into: [String: String]()) { $0[$1.key.lowercased()] = $1.value }
        #expect(headers["user-agent"]?.hasPrefix("llm-deploy-finisher/") == true)
        #expect(headers["authorization"] == nil && headers["cookie"] == nil)
        #expect(!headers.values.contains { $0.contains(key) })

        // Every call is recorded for the journal and logged: content replaced by its size.
        #expect(report.toolCalls.map(\.name) == ["list_files", "fetch_url", "read_file", "write_file", "write_file", "write_file",
                                                 "write_file", "delete_file", "write_file", "finish"])
        #expect(report.toolCalls.allSatisfy { $0.outcome == .ok && $0.detail == nil })
        #expect(report.toolCalls[3].arguments == #"{"content":"<\#(dataJSON.utf8.count) bytes>","path":"data.json"}"#)
        #expect(report.toolCalls[2].resultBytes == T.scoresCSV.utf8.count)
        #expect(logs.lines.filter { $0.contains("tool call") }.count == 10)
        #expect(logs.lines.contains { $0.contains("tool loop finished") })
        #expect(!logs.all.contains(key) && !logs.all.contains("Weather extremes"))
    }

    @Test func privateAddressesAndPathEscapesAreRefusedBackToTheModel() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let fixture = try FixtureServer(files: ["data.json": #"{"max": 1}"#])
        defer { fixture.stop() }
        let local = "http://localhost:\(fixture.port)/data.json"
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([
                ("metadata", "fetch_url", ["url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"]),
                ("private", "fetch_url", ["url": "http://10.0.0.1/admin"]),
                ("localhost", "fetch_url", ["url": local]),
                ("redirect", "fetch_url", ["url": "\(fixture.url)/redirect?to=\(local)"]),
                ("mapped", "fetch_url", ["url": "http://[::ffff:10.0.0.1]/"]),
                ("file", "fetch_url", ["url": "file:///etc/passwd"]),
                ("escape", "write_file", ["path": "../escape.txt", "content": "x"]),
                ("absolute", "write_file", ["path": "/etc/cron.d/job", "content": "x"]),
                ("git", "write_file", ["path": ".git/hooks/pre-commit", "content": "x"]),
                ("license", "write_file", ["path": "LICENSE", "content": "not MIT"]),
            ]),
            T.calls([("page", "write_file", ["path": "index.html", "content": Self.page]), ("done", "finish", ["summary": "A page."])],
                    expect: ["tool_result_contains": "169.254.169.254 is the cloud metadata address"]),
        ]])
        let logs = LogRecorder()
        // Only the fixture's own address and port are allowed: "localhost" is another name for it.
        let generator = try T.generator(stub, key: key, logs: logs, allow: "127.0.0.1:\(fixture.port)")
        let report = try await generator.generate(F.brief(), budget: 60)
        #expect(F.text(report.tree) == ["index.html": Self.page])

        let requests = try F.completions(stub)
        try #require(requests.count == 2)
        #expect(requests.allSatisfy { $0["status"] as? Int == 200 })
        let results = T.toolResults(requests[1])
        #expect(results["metadata"]?.hasPrefix("Refused: fetch_url refused http://169.254.169.254/latest/meta-data/iam/security-credentials/: "
            + "169.254.169.254 is the cloud metadata address (169.254.169.254). Only public internet hosts can be fetched") == true)
        #expect(results["private"]?.contains("10.0.0.1 is a private address (10.0.0.0/8)") == true)
        let viaName = try #require(results["localhost"])
        #expect(viaName.hasPrefix("Refused: fetch_url refused \(local): localhost resolves to "))
        #expect(viaName.contains("a loopback address"))
        let redirected = try #require(results["redirect"])
        #expect(redirected.hasPrefix("Refused: fetch_url refused \(local): localhost resolves to "))
        #expect(results["mapped"]?.contains("a private address (10.0.0.0/8), inside an IPv6 address") == true)
        #expect(results["file"]?.contains("only http and https URLs can be fetched") == true)
        #expect(results["escape"] == "Refused: path \"../escape.txt\" has an empty, . or .. component: use a relative path with forward slashes "
            + "inside the repository, such as index.html or data/items.json")
        #expect(results["absolute"]?.contains("is absolute") == true)
        #expect(results["git"]?.contains("is inside .git") == true)
        #expect(results["license"]?.contains("written by the pipeline") == true)

        // Nothing connected anywhere but the allowed fixture, and there only to be redirected.
        #expect(try fixture.requests().map { $0["path"] as? String } == ["/redirect?to=\(local)"])
        #expect(report.toolCalls.prefix(10).allSatisfy { $0.outcome == .refused && $0.detail?.hasPrefix("Refused: ") == true })
        #expect(logs.lines.filter { $0.hasPrefix("notice tool call") }.count == 10)
    }

    @Test func aModelThatNeverFinishesIsStoppedAtTheCallCapAndItsLastValidTreeIsUsed() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let first = "<!doctype html><title>v1</title>\n"
        let stub = try F.stub(key: key, script: [
            "steps": [
                T.calls([("a", "write_file", ["path": "index.html", "content": first]), ("b", "write_file", ["path": "app.js", "content": "1;\n"])]),
                T.calls([("c", "write_file", ["path": "index.html", "content": Self.page]), ("d", "write_file", ["path": "../x.js", "content": "2;\n"])]),
            ],
            "default": T.calls([("again", "list_files", [:])]),
        ])
        let logs = LogRecorder()
        let generator = try T.generator(stub, key: key, logs: logs) { $0.maximumToolCalls = 5 }
        let report = try await generator.generate(F.brief(), budget: 60)

        #expect(report.mode == .toolsStopped)
        #expect(F.text(report.tree) == ["index.html": Self.page, "app.js": "1;\n"])
        #expect(report.toolCalls.map(\.outcome) == [.ok, .ok, .ok, .refused, .ok])
        #expect(try F.completions(stub).count == 3)
        #expect(logs.lines.contains { $0.contains("tool loop stopped before finish") && $0.contains("the limit of 5 tool calls") })
    }

    @Test func aServerThatRejectsToolsGetsTheSingleAnswerRequest() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            ["expect": ["has_tools": true], "status": 400, "param": "tools", "message": "this model does not support tools"],
            ["expect": ["has_tools": false, "response_format": "json_schema", "system_contains": "# Answer format"],
             "content": F.answer(["index.html": Self.page])],
        ]])
        let logs = LogRecorder()
        let report = try await T.generator(stub, key: key, logs: logs).generate(F.brief(), budget: 30)
        #expect(report.mode == .singleAnswer)
        #expect(F.text(report.tree) == ["index.html": Self.page])
        #expect(report.toolCalls.isEmpty)
        #expect(try F.completions(stub).map { $0["status"] as? Int } == [400, 200])
        #expect(logs.lines.contains { $0.contains("no tool calling") && $0.contains("does not support tools") })
    }

    @Test func aModelThatCallsNoToolGetsTheSingleAnswerContract() async throws {
        // Prose instead of tool calls: the single-answer request follows.
        let key = "sk-test-\(UUID().uuidString)"
        let prose = try F.stub(key: key, script: ["steps": [
            ["expect": ["has_tools": true], "content": "Sure! I will build a tip calculator for you."],
            ["expect": ["has_tools": false, "response_format": "json_schema"], "content": F.answer(["index.html": Self.page])],
        ]])
        let fromProse = try await T.generator(prose, key: key, logs: LogRecorder()).generate(F.brief(), budget: 30)
        #expect(F.text(fromProse.tree) == ["index.html": Self.page] && fromProse.mode == .singleAnswer)
        #expect(try F.completions(prose).count == 2)

        // The files as JSON instead of tool calls: used as they are, without another request.
        let direct = try F.stub(key: key, script: ["steps": [["expect": ["has_tools": true], "content": F.answer(["index.html": Self.page])]]])
        let fromJSON = try await T.generator(direct, key: key, logs: LogRecorder()).generate(F.brief(), budget: 30)
        #expect(F.text(fromJSON.tree) == ["index.html": Self.page] && fromJSON.mode == .singleAnswer)
        #expect(try F.completions(direct).count == 1)
    }

    @Test func aModelThatStopsBeforeFinishIsRemindedOnce() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([("w", "write_file", ["path": "index.html", "content": Self.page])]),
            ["content": "All done, the page is written."],
            T.calls([("f", "finish", ["summary": "A page."])], expect: ["last_user_contains": "You stopped without calling finish"]),
        ]])
        let report = try await T.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 30)
        #expect(report.mode == .tools)
        #expect(F.text(report.tree) == ["index.html": Self.page])
        let last = try #require(try F.completions(stub).last)
        #expect(F.messages(last).map(\.role) == ["system", "user", "assistant", "tool", "assistant", "user"])
    }

    @Test func roundTwoDeletesAndRewritesAndTheReadmeRecordsTheChange() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let readme = "# Tip calculator\n\n## Summary\n\nSplits a bill.\n"
        let existing = [
            "index.html": Data("<p>old</p>\n".utf8), "old.js": Data("legacy();\n".utf8), "README.md": Data(readme.utf8),
            "lib/a.js": Data("a;\n".utf8), "lib/b.js": Data("b;\n".utf8), "style.css": Data("body {}\n".utf8),
        ]
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([("o", "delete_file", ["path": "old.js"]), ("l", "delete_file", ["path": "lib/"]),
                     ("r", "delete_file", ["path": "README.md"]), ("n", "delete_file", ["path": "missing.js"]),
                     ("i", "write_file", ["path": "index.html", "content": Self.page])],
                    expect: ["system_contains": "# Changing an existing repository", "last_user_contains": "## old.js"]),
            T.calls([("f", "finish", ["summary": "Added a running total."])]),
        ]])
        let brief = F.brief(round: 2, text: "Add a running total.", existing: existing)
        let report = try await T.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 30)

        #expect(Set(report.tree.keys) == ["index.html", "README.md", "style.css"])
        #expect(F.text(report.tree)["index.html"] == Self.page)
        #expect(F.text(report.tree)["README.md"] == readme && !report.wroteReadme)
        let assembled = try RepositoryDocuments(licenseHolder: "llm-deploy", year: 2026).assemble(report, attachments: [], request: brief.request)
        let updated = F.text(assembled)["README.md"] ?? ""
        #expect(updated.hasPrefix(readme) && updated.contains("## Round 2 changes") && updated.contains("Added a running total."))
        let results = T.toolResults(try F.completions(stub)[1])
        #expect(results["l"] == "Deleted 2 files under lib/.")
        #expect(results["r"]?.hasPrefix("Refused: README.md is required") == true)
        #expect(results["n"]?.hasPrefix("Refused: there is no file \"missing.js\"") == true)
    }
}
