import Foundation

/// The body of `POST {base}/chat/completions`: only fields every OpenAI-compatible server
/// accepts (OpenAI, AI Pipe, OpenRouter, Ollama, llama.cpp, vLLM). No `temperature`, which some
/// models reject. `tools` is sent only by the tool loop. What a given server refuses (a
/// `json_schema`, tools, image parts, `max_tokens`) is learnt from its errors and left out of
/// later requests: see `EndpointCapabilities` and `adapted(to:)`.
struct ChatCompletionsRequest: Sendable, Equatable, Encodable {
    /// The model, as the provider names it (`LLM_DEPLOY_MODEL`).
    var model: String
    /// The conversation so far: system, user and (for a repair) assistant turns; in the tool
    /// loop, assistant turns with tool calls and our `tool` results.
    var messages: [Message]
    /// The JSON Schema the answer must follow, or `nil` for a server that refused it.
    var responseFormat: ResponseFormat?
    /// The functions the model may call (the tool loop), or `nil` for a single answer.
    var tools: [Tool]? = nil
    /// The most tokens one answer may take (`max_tokens`), so that a rambling model cannot spend
    /// the whole generation budget in one call.
    var maxTokens: Int? = nil
    /// The same limit for servers that want `max_completion_tokens` instead (OpenAI's reasoning models).
    var maxCompletionTokens: Int? = nil

    /// The wire names (snake case).
    enum CodingKeys: String, CodingKey {
        case model, messages, tools
        case responseFormat = "response_format"
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
    }

    /// Whether any message carries an image part.
    var hasImages: Bool { messages.contains { $0.parts?.contains { if case .image = $0 { true } else { false } } ?? false } }

    /// One turn of the conversation: text, or (tool loop) the model's calls and our results.
    struct Message: Sendable, Equatable, Encodable {
        /// Who speaks.
        enum Role: String, Sendable, Encodable {
            case system, user, assistant, tool
        }

        /// `system`, `user`, `assistant` or `tool`.
        var role: Role
        /// The turn's text (`nil` only for an assistant turn that made tool calls without text).
        var content: String?
        /// The calls an assistant turn made, replayed as the model sent them.
        var toolCalls: [ChatCompletionsToolCall]? = nil
        /// For a `tool` turn: which call this is the result of.
        var toolCallID: String? = nil
        /// A user turn with images: its text and image parts, sent instead of `content`.
        var parts: [Part]? = nil

        /// One part of a user turn's content.
        enum Part: Sendable, Equatable {
            /// `{"type": "text", "text": …}`.
            case text(String)
            /// `{"type": "image_url", "image_url": {"url": …}}` (a `data:` URI), with the text that
            /// stands in for it where the endpoint cannot take images.
            case image(url: String, description: String)
        }

        /// The turn with its images replaced by their descriptions (for an endpoint without vision).
        var withoutImages: Message {
            guard let parts else { return self }
            var message = self
            message.parts = nil
            message.content = parts.map { part -> String in
                switch part {
                case .text(let text): text
                case .image(_, let description): description
                }
            }.joined(separator: "\n\n")
            return message
        }

        /// The wire names (snake case).
        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case toolCallID = "tool_call_id"
        }

        /// The instructions that hold for the whole conversation.
        static func system(_ content: String) -> Message { Message(role: .system, content: content) }
        /// What we ask.
        static func user(_ content: String) -> Message { Message(role: .user, content: content) }
        /// What the model answered earlier (replayed for a repair).
        static func assistant(_ content: String) -> Message { Message(role: .assistant, content: content) }
        /// An assistant turn that called tools, replayed before their results.
        static func assistant(_ content: String?, calling calls: [ChatCompletionsToolCall]) -> Message {
            Message(role: .assistant, content: content, toolCalls: calls)
        }
        /// The result of the call `id`, as text.
        static func tool(_ id: String, _ content: String) -> Message { Message(role: .tool, content: content, toolCallID: id) }

        /// `content` is written as `null` when an assistant turn has only tool calls, as OpenAI
        /// sends it; the other keys are left out when empty.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(role, forKey: .role)
            if let parts {
                var list = container.nestedUnkeyedContainer(forKey: .content)
                for part in parts {
                    switch part {
                    case .text(let text): try list.encode(JSONTree.object(["type": .string("text"), "text": .string(text)]))
                    case .image(let url, _):
                        try list.encode(JSONTree.object(["type": .string("image_url"), "image_url": .object(["url": .string(url)])]))
                    }
                }
            } else if let content {
                try container.encode(content, forKey: .content)
            } else {
                try container.encodeNil(forKey: .content)
            }
            try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
            try container.encodeIfPresent(toolCallID, forKey: .toolCallID)
        }
    }

    /// `{"type": "function", "function": {"name", "description", "parameters"}}`: one function
    /// the model may call. Not `strict`, which some OpenAI-compatible servers reject.
    struct Tool: Sendable, Equatable, Encodable {
        /// Always `function`.
        var type = "function"
        /// The function's name, description and JSON Schema.
        var function: Function

        /// What the model sees of one function.
        struct Function: Sendable, Equatable, Encodable {
            /// `^[a-zA-Z0-9_-]{1,64}$`.
            var name: String
            /// When and how to use it.
            var description: String
            /// The JSON Schema of its arguments object.
            var parameters: JSONTree
        }

        /// A function named `name` taking `parameters`.
        init(name: String, description: String, parameters: JSONTree) {
            function = Function(name: name, description: description, parameters: parameters)
        }
    }

    /// `{"type": "json_schema", "json_schema": {"name", "strict", "schema"}}` (Structured Outputs),
    /// or `{"type": "json_object"}` (JSON mode) for a server without schemas.
    struct ResponseFormat: Sendable, Equatable, Encodable {
        /// `json_schema` or `json_object`.
        var type = "json_schema"
        /// The schema and its name (`json_schema` only).
        var jsonSchema: NamedSchema?

        /// JSON mode: any JSON object.
        static let jsonObject = ResponseFormat(type: "json_object", jsonSchema: nil)

        /// The wire names (snake case).
        enum CodingKeys: String, CodingKey {
            case type
            case jsonSchema = "json_schema"
        }

        /// The schema with the name and strictness the API asks for.
        struct NamedSchema: Sendable, Equatable, Encodable {
            /// `^[a-zA-Z0-9_-]+$`, shown to the model.
            var name: String
            /// Strict mode: the server guarantees the schema (where it supports it).
            var strict: Bool
            /// The JSON Schema itself.
            var schema: JSONTree
        }

        /// The generator's output contract: `{"summary", "files": [{"path", "content", "encoding",
    /// "from"}], "delete"}`.
        /// Strict mode's rules hold at every level: `additionalProperties: false` and every
        /// property required (an empty `delete` array means "nothing to delete").
        static let repositoryChanges = ResponseFormat(jsonSchema: NamedSchema(
            name: "repository_changes", strict: true,
            schema: .object([
                "type": .string("object"),
                "additionalProperties": .bool(false),
                "required": .array([.string("summary"), .string("files"), .string("delete")]),
                "properties": .object([
                    "summary": .object([
                        "type": .string("string"),
                        "description": .string("One or two sentences: what was built or changed."),
                    ]),
                    "files": .object([
                        "type": .string("array"),
                        "description": .string("Every file to create or replace, each with its complete content."),
                        "items": .object([
                            "type": .string("object"),
                            "additionalProperties": .bool(false),
                            "required": .array([.string("path"), .string("content"), .string("encoding"), .string("from")]),
                            "properties": .object([
                                "path": .object([
                                    "type": .string("string"),
                                    "description": .string("Relative path with forward slashes, e.g. index.html or data.json."),
                                ]),
                                "content": .object([
                                    "type": .string("string"),
                                    "description": .string("The complete text of the file (base64 when encoding is base64; empty when from is set)."),
                                ]),
                                "encoding": .object([
                                    "type": .array([.string("string"), .string("null")]),
                                    "enum": .array([.string("utf-8"), .string("base64"), .null]),
                                    "description": .string("null or utf-8 for text; base64 for a binary file the brief asks for."),
                                ]),
                                "from": .object([
                                    "type": .array([.string("string"), .string("null")]),
                                    "description": .string("An attachment or repository file this one is converted from (xlsx to csv or json, "
                                        + "csv to json, json to csv), e.g. data.xlsx; null when content is given."),
                                ]),
                            ]),
                        ]),
                    ]),
                    "delete": .object([
                        "type": .string("array"),
                        "description": .string("Paths of existing files to remove; empty when nothing is removed."),
                        "items": .object(["type": .string("string")]),
                    ]),
                ]),
            ])))
    }

    /// The request as this endpoint accepts it: the response format stepped down (`json_schema`
    /// → `json_object` → none), images replaced by their descriptions, the token limit under the
    /// name the server takes (or none). Tools are not removed here: without them the tool loop
    /// has no meaning, so its caller chooses the single answer instead.
    func adapted(to capabilities: EndpointCapabilities) -> ChatCompletionsRequest {
        var request = self
        if let format = responseFormat {
            switch capabilities.output {
            case .jsonSchema: break
            case .jsonObject: if format.type == "json_schema" { request.responseFormat = .jsonObject }
            case .plain: request.responseFormat = nil
            }
        }
        if !capabilities.images { request.messages = messages.map(\.withoutImages) }
        let limit = maxTokens ?? maxCompletionTokens
        switch capabilities.tokenLimit {
        case .maxTokens: (request.maxTokens, request.maxCompletionTokens) = (limit, nil)
        case .maxCompletionTokens: (request.maxTokens, request.maxCompletionTokens) = (nil, limit)
        case .none: (request.maxTokens, request.maxCompletionTokens) = (nil, nil)
        }
        return request
    }

    /// The feature of this request that an error answer says the server does not support, or
    /// `nil` when the error is about something else. Servers say it in their own words and with
    /// their own status: llama-cpp-python answers 500 with a pydantic validation message naming
    /// `response_format`, vLLM 400 "\"auto\" tool choice requires --enable-auto-tool-choice" or
    /// "… is not a multimodal model", Ollama 400 "… does not support tools".
    func refusedFeature(status: Int, param: String?, text: String) -> EndpointCapabilities.Feature? {
        let said = ((param ?? "") + " " + text).lowercased()
        // Only before any tool result is sent back: later, an error naming a tool message is
        // about the conversation (a missing tool_call_id), not about tool support.
        if tools != nil, !messages.contains(where: { $0.role == .tool }), said.contains("tool") || said.contains("function call") { return .tools }
        if let format = responseFormat,
           ["response_format", "json_schema", "json_object", "structured output", "response format"].contains(where: said.contains) {
            return format.type == "json_schema" ? .jsonSchema : .jsonObject
        }
        if hasImages, ["image", "multimodal", "multi-modal", "vision"].contains(where: said.contains) { return .images }
        if maxTokens != nil, said.contains("max_tokens") { return .maxTokens }
        if maxCompletionTokens != nil, said.contains("max_completion_tokens") { return .maxCompletionTokens }
        return nil
    }

    /// The request as JSON bytes.
    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Strings, arrays and objects of them: encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}
