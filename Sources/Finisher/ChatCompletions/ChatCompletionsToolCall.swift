import Foundation

/// One function call in an assistant message (`tool_calls[i]`): read from an answer, and sent
/// back unchanged in the assistant turn we replay before our `tool` messages.
///
/// Decoding is lenient because servers differ: `arguments` is normally a JSON string, but some
/// servers send an object; an `id` or `type` may be missing (an id is then made up, since our
/// `tool` message must name one).
struct ChatCompletionsToolCall: Sendable, Equatable, Codable {
    /// The call's id, repeated as `tool_call_id` in the result we return.
    var id: String
    /// The tool's name, e.g. `write_file`.
    var name: String
    /// The arguments as the model wrote them: JSON text, not yet trusted or even valid.
    var arguments: String

    /// A call with the given parts.
    init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    /// The wire names.
    private enum CodingKeys: String, CodingKey {
        case id, type, function
    }

    /// The wire names inside `function`.
    private enum FunctionKeys: String, CodingKey {
        case name, arguments
    }

    /// Reads `{"id", "type": "function", "function": {"name", "arguments"}}`, leniently.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let function = try container.nestedContainer(keyedBy: FunctionKeys.self, forKey: .function)
        name = try function.decode(String.self, forKey: .name)
        if let text = try? function.decode(String.self, forKey: .arguments) {
            arguments = text
        } else if let value = try? function.decode(AnyJSON.self, forKey: .arguments) {
            arguments = String(decoding: (try? JSONSerialization.data(withJSONObject: value.object, options: [.fragmentsAllowed])) ?? Data("{}".utf8), as: UTF8.self)
        } else {
            arguments = "{}"
        }
        id = (try? container.decodeIfPresent(String.self, forKey: .id)) ?? "call_\(UUID().uuidString.prefix(12).lowercased())"
    }

    /// Writes the call as OpenAI defines it.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode("function", forKey: .type)
        var function = container.nestedContainer(keyedBy: FunctionKeys.self, forKey: .function)
        try function.encode(name, forKey: .name)
        try function.encode(arguments, forKey: .arguments)
    }

    /// Any JSON value, for servers that send `arguments` as an object.
    private struct AnyJSON: Decodable {
        /// The value as `JSONSerialization` represents it.
        var object: Any

        /// Decodes whatever is there.
        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                var items: [Any] = []
                while !array.isAtEnd { items.append(try array.decode(AnyJSON.self).object) }
                object = items
            } else if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
                var members: [String: Any] = [:]
                for key in keyed.allKeys { members[key.stringValue] = try keyed.decode(AnyJSON.self, forKey: key).object }
                object = members
            } else {
                let single = try decoder.singleValueContainer()
                if single.decodeNil() { object = NSNull() }
                else if let flag = try? single.decode(Bool.self) { object = flag }
                else if let number = try? single.decode(Double.self) { object = number }
                else { object = try single.decode(String.self) }
            }
        }
    }

    /// A coding key for any member name.
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
