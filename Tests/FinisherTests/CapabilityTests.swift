import Foundation
import Spool
import Testing
import TestSupport
@testable import Finisher

/// Endpoint capability negotiation against the stub answering as real OpenAI-compatible servers
/// do (Tests/Peers/openai_stub.py, `server`): llama-cpp-python's HTTP 500 naming
/// `response_format`, vLLM's and Ollama's 400 for tools. A refusal steps the feature down at
/// once, without retrying the same request, and is remembered for the process.
struct CapabilityTests {
    typealias F = GeneratorFixtures
    typealias T = ToolLoopFixtures

    static var answer: [String: Any] { F.answer(["index.html": GeneratorTests.page]) }

    static func kinds(_ stub: Peer) throws -> [String] {
        try F.completions(stub).map { record in
            let body = record["body"] as? [String: Any] ?? [:]
            let format = (body["response_format"] as? [String: Any])?["type"] as? String ?? "none"
            return "\(record["status"] as? Int ?? 0) \(body["tools"] == nil ? "" : "tools ")\(format)"
        }
    }

    @Test func llamaCppPythonsValidation500StepsDownToJSONModeAtOnceAndIsRemembered() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["server": "llama-cpp-python", "steps": [
            // No function-calling chat format: the model answers the tool request in prose.
            ["expect": ["has_tools": true], "content": "I will build the calculator for you."],
            ["expect": ["response_format": "json_object"], "content": Self.answer],
            ["expect": ["response_format": "json_object", "has_tools": false], "content": Self.answer],
        ]])
        let logs = LogRecorder()
        let generator = try T.generator(stub, key: key, logs: logs)
        let report = try await generator.generate(F.brief(), budget: 20)
        #expect(F.text(report.tree) == ["index.html": GeneratorTests.page])
        // The 500 was not retried: one refusal, then JSON mode.
        #expect(try Self.kinds(stub) == ["200 tools none", "500 json_schema", "200 json_object"])
        let refusal = try #require(try F.completions(stub)[1]["body"] as? [String: Any])
        #expect(refusal["response_format"] != nil)
        #expect(logs.all.contains("stepping down") && logs.all.contains("Input should be 'text' or 'json_object'"))

        // The next task in this process goes straight to what works.
        _ = try await generator.generate(F.brief(), budget: 20)
        #expect(try Self.kinds(stub).dropFirst(3) == ["200 json_object"])
        let known = generator.client.known(model: "test-model")
        #expect(known.output == .jsonObject && !known.tools)
    }

    @Test func vLLMsAndOllamasToolRefusalsGoToTheSingleAnswerWithoutRetrying() async throws {
        for server in ["vllm", "ollama"] {
            let key = "sk-test-\(UUID().uuidString)"
            let stub = try F.stub(key: key, script: ["server": server, "steps": [
                ["expect": ["response_format": "json_schema", "has_tools": false], "content": Self.answer],
                ["expect": ["has_tools": false], "content": Self.answer],
            ]])
            let generator = try T.generator(stub, key: key, logs: LogRecorder())
            let report = try await generator.generate(F.brief(), budget: 20)
            #expect(report.mode == .singleAnswer, "\(server)")
            #expect(try Self.kinds(stub) == ["400 tools none", "200 json_schema"], "\(server)")
            _ = try await generator.generate(F.brief(), budget: 20)
            #expect(try Self.kinds(stub).count == 3, "\(server): tools are not offered again")
        }
    }

    @Test func aRefusedMaxTokensBecomesMaxCompletionTokensThenNothing() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            ["expect": ["max_tokens": 16_384], "status": 400, "param": "max_tokens",
             "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."],
            ["status": 400, "param": "max_completion_tokens", "message": "max_completion_tokens is too large: 16384."],
            ["content": Self.answer],
        ]])
        let generator = F.generator(stub, key: key, logs: LogRecorder())
        _ = try await generator.generate(F.brief(), budget: 10)
        let bodies = try F.completions(stub).compactMap { $0["body"] as? [String: Any] }
        #expect(bodies.map { $0["max_tokens"] as? Int } == [16_384, nil, nil])
        #expect(bodies.map { $0["max_completion_tokens"] as? Int } == [nil, 16_384, nil])
        #expect(generator.client.known(model: "test-model").tokenLimit == .none)
    }

    @Test func anErrorAboutToolMessagesLaterInTheLoopIsNotARefusalOfTools() {
        let tools = [ChatCompletionsRequest.Tool(name: "finish", description: "d", parameters: .object(["type": .string("object")]))]
        let first = ChatCompletionsRequest(model: "m", messages: [.user("u")], responseFormat: nil, tools: tools)
        let later = ChatCompletionsRequest(model: "m", messages: [
            .user("u"), .assistant(nil, calling: [ChatCompletionsToolCall(id: "c1", name: "finish", arguments: "{}")]), .tool("c1", "ok"),
        ], responseFormat: nil, tools: tools)
        let text = "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
        #expect(first.refusedFeature(status: 400, param: nil, text: "llama3 does not support tools") == .tools)
        #expect(later.refusedFeature(status: 400, param: "messages.[2].role", text: text) == nil)
    }

    @Test func aServerErrorNamingNoFeatureIsStillRetried() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [["status": 500], ["content": Self.answer]]])
        let generator = F.generator(stub, key: key, logs: LogRecorder())
        _ = try await generator.generate(F.brief(), budget: 10)
        #expect(try Self.kinds(stub) == ["500 json_schema", "200 json_schema"])
        #expect(generator.client.known(model: "test-model") == EndpointCapabilities())
    }
}
