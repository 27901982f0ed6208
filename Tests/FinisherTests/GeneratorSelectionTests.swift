import Foundation
import Spool
import Testing
@testable import Finisher

/// Which generator the environment selects, and the configuration errors it reports.
struct GeneratorSelectionTests {
    @Test func withoutAKeyTheOfflineTemplateIsUsed() throws {
        let logs = LogRecorder()
        let generator = try GeneratorSelection.make(environment: ServiceEnvironment(["OPENAI_BASE_URL": "http://127.0.0.1:9/v1"]), logger: logs.logger)
        #expect(generator is TemplateGenerator)
        #expect(logs.all.contains("offline template"))
    }

    @Test func aKeyFileSelectsChatCompletionsWithTheDefaults() throws {
        let key = "sk-file-\(UUID().uuidString)"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("openai-key-\(UUID().uuidString)").path
        try Data((key + "\n").utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let logs = LogRecorder()
        let generator = try GeneratorSelection.make(environment: ServiceEnvironment(["OPENAI_API_KEY_FILE": path]), logger: logs.logger)
        let chat = try #require(generator as? ChatCompletionsGenerator)
        #expect(chat.name == "gpt-4.1-mini")
        #expect(chat.client.endpoint == "https://api.openai.com/v1/chat/completions")
        #expect(chat.client.apiKey == key)
        #expect(!logs.all.contains(key))

        let custom = try GeneratorSelection.make(environment: ServiceEnvironment([
            "OPENAI_API_KEY": key, "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/", "LLM_DEPLOY_MODEL": "qwen2.5-coder:7b",
        ]), logger: logs.logger)
        #expect(custom.name == "qwen2.5-coder:7b")
        #expect((custom as? ChatCompletionsGenerator)?.client.endpoint == "http://127.0.0.1:11434/v1/chat/completions")
    }

    @Test func unusableValuesNameTheirVariable() {
        let cases: [([String: String], String)] = [
            (["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "ftp://example.com/v1"], "OPENAI_BASE_URL"),
            (["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://user:pw@example.com/v1"], "OPENAI_BASE_URL"),
            (["OPENAI_API_KEY": "k", "LLM_DEPLOY_MODEL": "gpt 4"], "LLM_DEPLOY_MODEL"),
            (["OPENAI_API_KEY": "sk-one two"], "OPENAI_API_KEY"),
            (["OPENAI_API_KEY": "k", "OPENAI_API_KEY_FILE": "/nonexistent"], "OPENAI_API_KEY"),
        ]
        for (values, variable) in cases {
            do {
                _ = try GeneratorSelection.make(environment: ServiceEnvironment(values), logger: LogRecorder().logger)
                Issue.record("accepted \(values)")
            } catch {
                #expect(error.variable == variable)
                #expect(!error.description.contains("sk-one two"))
            }
        }
    }
}
