import Foundation
import Testing
import TestSupport

/// `doctor` probes what the configured LLM endpoint accepts, against the stub answering as
/// llama-cpp-python (HTTP 500 for `json_schema`) and as vLLM (400 for tools and images).
@Suite(.serialized) struct DoctorCapabilityTests {
    @Test func doctorReportsWhatEachServerAccepts() throws {
        let expected = [
            "llama-cpp-python": "response format json_object (json_schema refused); tools accepted; images accepted; token limit max_tokens",
            "vllm": "response format json_schema; tools refused; images refused; token limit max_tokens",
        ]
        for (server, line) in expected {
            let root = Paths.temporaryDirectory("doctor-llm")
            let key = "sk-test-\(UUID().uuidString)"
            try JSONSerialization.data(withJSONObject: ["server": server, "steps": [], "default": ["content": "{\"ok\": true}"]])
                .write(to: URL(fileURLWithPath: "\(root)/script.json"))
            let model = try Peer("openai_stub.py", ["--key", key, "--script", "\(root)/script.json"])
            try withStack(environment: ["OPENAI_BASE_URL": "\(model.url)/v1", "OPENAI_API_KEY": key, "LLM_DEPLOY_MODEL": "stub-model"]) { stack in
                let run = try stack.finisher(["doctor", "--nginx-conf", "\(stack.home)/nginx.conf"])
                #expect(run.status == 0, "\(run.log)")
                #expect(run.log.contains("ok    LLM capabilities: stub-model: \(line)"), "\(server): \(run.log)")
                #expect(!run.log.contains(key))
            }
            let requests = try model.requests().filter { ($0["path"] as? String)?.hasSuffix("/chat/completions") == true }
            #expect(requests.allSatisfy { (($0["body"] as? [String: Any])?["max_tokens"] as? Int) == 16 }, "probes are tiny")
            #expect(requests.count <= 4, "\(server): one refusal per feature, no retries")
        }
    }
}
