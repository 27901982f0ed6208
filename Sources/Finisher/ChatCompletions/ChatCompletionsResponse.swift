import Foundation

/// The parts of a Chat Completions answer the generator reads; everything else is ignored, and
/// every field is optional because servers differ in what they fill in.
struct ChatCompletionsResponse: Sendable, Equatable, Decodable {
    /// The model that answered (may differ from the one asked for, e.g. a dated snapshot).
    var model: String?
    /// The alternatives; we ask for one and read the first.
    var choices: [Choice]
    /// Token counts, when the server reports them.
    var usage: Usage?

    /// One alternative answer.
    struct Choice: Sendable, Equatable, Decodable {
        /// The assistant's message.
        var message: Message?
        /// `stop`, `length` (cut off), `content_filter`, …
        var finishReason: String?

        /// The wire names (snake case).
        enum CodingKeys: String, CodingKey {
            case message
            case finishReason = "finish_reason"
        }
    }

    /// The assistant's message: its text, a refusal, or (tool loop) the tools it calls.
    struct Message: Sendable, Equatable, Decodable {
        /// The answer's text (`nil` on a refusal or a tool call).
        var content: String?
        /// Why the model declined, when it did (Structured Outputs).
        var refusal: String?
        /// The functions the model calls, in order (`nil` or empty when it answered in text).
        var toolCalls: [ChatCompletionsToolCall]?

        /// The wire names (snake case).
        enum CodingKeys: String, CodingKey {
            case content, refusal
            case toolCalls = "tool_calls"
        }

        /// A message with the given parts.
        init(content: String? = nil, refusal: String? = nil, toolCalls: [ChatCompletionsToolCall]? = nil) {
            self.content = content
            self.refusal = refusal
            self.toolCalls = toolCalls
        }

        /// Reads the message; a `tool_calls` array that cannot be read counts as no calls.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            content = try container.decodeIfPresent(String.self, forKey: .content)
            refusal = try container.decodeIfPresent(String.self, forKey: .refusal)
            toolCalls = try? container.decodeIfPresent([ChatCompletionsToolCall].self, forKey: .toolCalls)
        }
    }

    /// Token counts for one exchange.
    struct Usage: Sendable, Equatable, Decodable {
        /// Tokens in the prompt.
        var promptTokens: Int?
        /// Tokens in the answer.
        var completionTokens: Int?
        /// Their sum, as billed.
        var totalTokens: Int?

        /// The wire names (snake case).
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }

    /// The first choice: the only one we ask for.
    var first: Choice? { choices.first }

    /// The `{"error": {"message", "type", "code"}}` object OpenAI-compatible servers send with a
    /// 4xx or 5xx, when they send one.
    struct ErrorBody: Sendable, Equatable, Decodable {
        /// The error object.
        var error: Detail

        /// What the server said went wrong.
        struct Detail: Sendable, Equatable, Decodable {
            /// Human-readable explanation.
            var message: String?
            /// e.g. `invalid_request_error`, `server_error`.
            var type: String?
            /// e.g. `rate_limit_exceeded`, `insufficient_quota`, `invalid_api_key`.
            var code: String?
            /// The request field at fault, e.g. `response_format`.
            var param: String?
        }

        /// The error object in `body`, or `nil` when the body is something else (an HTML page
        /// from a proxy, nothing at all). `code` may be a string or a number on some servers.
        static func parse(_ body: Data) -> Detail? {
            if let decoded = try? JSONDecoder().decode(ErrorBody.self, from: body) { return decoded.error }
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
            // vLLM's own shape: {"object": "error", "message", "type", "param", "code"}.
            if object["error"] == nil, let message = object["message"] as? String {
                return Detail(message: message, type: object["type"] as? String, code: object["code"].map { "\($0)" }, param: object["param"] as? String)
            }
            guard let error = object["error"] else { return nil }
            if let text = error as? String { return Detail(message: text) }
            guard let fields = error as? [String: Any] else { return nil }
            return Detail(
                message: fields["message"] as? String, type: fields["type"] as? String,
                code: fields["code"].map { "\($0)" }, param: fields["param"] as? String)
        }
    }
}
