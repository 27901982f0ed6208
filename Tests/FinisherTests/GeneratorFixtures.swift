import Foundation
import Logging
import Spool
import TestSupport
@testable import Finisher

/// What the generator tests share: briefs, a scripted stub on loopback, a generator pointed at
/// it with short budgets, and a logger whose every line the test can read.
enum GeneratorFixtures {
    /// A brief for `round`, with the given checks, attachments and existing files.
    static func brief(
        round: Int = 1, text: String = "Build a tip calculator.", checks: [String] = [],
        attachments: [ReceivedAttachment] = [], existing: [String: Data] = [:]
    ) -> GenerationBrief {
        let request = TaskRequest(
            email: "student@example.com", task: "tip-calculator", round: round, nonce: "n-\(round)", brief: text,
            checks: checks, evaluationURL: "http://127.0.0.1:9/notify", attachments: [], receivedAt: .now)
        return GenerationBrief(request: request, attachments: attachments, existingFiles: existing)
    }

    /// The stub (`Tests/Peers/openai_stub.py`) requiring `key`, loaded with `script`.
    static func stub(key: String, script: [String: Any]) throws -> Peer {
        let peer = try Peer("openai_stub.py", ["--key", key])
        let response = try HTTPClient.postJSON(port: peer.port, path: "/_peer/script", script)
        guard response.status == 200 else { throw HTTPClient.Failure(description: "script refused: \(response.text)") }
        return peer
    }

    /// A generator for `peer` with test-sized timeouts: retries may start with half a second left.
    static func generator(_ peer: Peer, key: String, logs: LogRecorder, model: String = "test-model") -> ChatCompletionsGenerator {
        var generator = ChatCompletionsGenerator(baseURL: "\(peer.url)/v1/", apiKey: key, model: model, logger: logs.logger)
        generator.client.minimumAttemptTime = 0.5
        generator.client.backoffBase = 0.2
        // Each test's own memory of what the endpoint refused: a later stub may reuse the port.
        generator.client.capabilities = CapabilityMemory()
        return generator
    }

    /// The contract object the generator asks for.
    static func answer(_ files: KeyValuePairs<String, String>, delete: [String] = [], summary: String = "Done.") -> [String: Any] {
        ["summary": summary, "files": files.map { ["path": $0.key, "content": $0.value] }, "delete": delete]
    }

    /// The chat completion requests the stub recorded (control requests are never recorded).
    static func completions(_ peer: Peer) throws -> [[String: Any]] {
        try peer.requests().filter { ($0["path"] as? String)?.hasSuffix("/chat/completions") == true }
    }

    /// The messages of a recorded request as (role, content) pairs.
    static func messages(_ record: [String: Any]) -> [(role: String, content: String)] {
        let body = record["body"] as? [String: Any] ?? [:]
        return (body["messages"] as? [[String: Any]] ?? []).map { message in
            // A turn with images has content parts: its text parts, joined.
            let parts = (message["content"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined(separator: "\n")
            return (message["role"] as? String ?? "", message["content"] as? String ?? parts ?? "")
        }
    }

    /// The tree as UTF-8 text, for readable expectations.
    static func text(_ tree: [String: Data]) -> [String: String] {
        tree.mapValues { String(decoding: $0, as: UTF8.self) }
    }
}

/// Collects every log line a test's logger writes: the message and all metadata, rendered.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []

    /// A logger at `trace` level that writes here.
    var logger: Logger {
        Logger(label: "generator-test") { _ in Handler(recorder: self) }
    }

    /// Every line so far.
    var lines: [String] { lock.withLock { recorded } }

    /// Everything logged, as one string.
    var all: String { lines.joined(separator: "\n") }

    fileprivate func append(_ line: String) { lock.withLock { recorded.append(line) } }

    /// The swift-log backend that renders into the recorder.
    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let rendered = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
            recorder.append("\(event.level) \(event.message) \(rendered)")
        }
    }
}
