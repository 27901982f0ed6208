import Foundation

/// The body of `POST {base}/chat/completions`: only fields every OpenAI-compatible server
/// accepts (OpenAI, AI Pipe, OpenRouter, Ollama, llama.cpp, vLLM). No `temperature` or token
/// limit, which some models reject: the server's defaults apply.
struct ChatCompletionsRequest: Sendable, Equatable, Encodable {
    /// The model, as the provider names it (`LLM_DEPLOY_MODEL`).
    var model: String
    /// The conversation so far: system, user and (for a repair) assistant turns.
    var messages: [Message]
    /// The JSON Schema the answer must follow, or `nil` for a server that refused it.
    var responseFormat: ResponseFormat?

    /// The wire names (snake case).
    enum CodingKeys: String, CodingKey {
        case model, messages
        case responseFormat = "response_format"
    }

    /// One turn of the conversation, as plain text.
    struct Message: Sendable, Equatable, Encodable {
        /// Who speaks.
        enum Role: String, Sendable, Encodable {
            case system, user, assistant
        }

        /// `system`, `user` or `assistant`.
        var role: Role
        /// The turn's text.
        var content: String

        /// The instructions that hold for the whole conversation.
        static func system(_ content: String) -> Message { Message(role: .system, content: content) }
        /// What we ask.
        static func user(_ content: String) -> Message { Message(role: .user, content: content) }
        /// What the model answered earlier (replayed for a repair).
        static func assistant(_ content: String) -> Message { Message(role: .assistant, content: content) }
    }

    /// `{"type": "json_schema", "json_schema": {"name", "strict", "schema"}}` (Structured Outputs).
    struct ResponseFormat: Sendable, Equatable, Encodable {
        /// Always `json_schema`.
        var type = "json_schema"
        /// The schema and its name.
        var jsonSchema: NamedSchema

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

        /// The generator's output contract: `{"summary", "files": [{"path", "content"}], "delete"}`.
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
                            "required": .array([.string("path"), .string("content")]),
                            "properties": .object([
                                "path": .object([
                                    "type": .string("string"),
                                    "description": .string("Relative path with forward slashes, e.g. index.html or js/app.js."),
                                ]),
                                "content": .object([
                                    "type": .string("string"),
                                    "description": .string("The complete text of the file."),
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

    /// The request as JSON bytes.
    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Strings, arrays and objects of them: encoding cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }
}
