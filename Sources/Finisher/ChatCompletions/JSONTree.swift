import Foundation

/// A JSON value built in code, with object keys kept in the order written: the JSON Schema we
/// send in `response_format` reads the same in every request and every log.
indirect enum JSONTree: Sendable, Equatable, Encodable {
    /// A string.
    case string(String)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
    /// An array, in order.
    case array([JSONTree])
    /// An object: keys in the order given (a key given twice is encoded twice, so don't).
    case members([Member])

    /// One key of an object and its value.
    struct Member: Sendable, Equatable {
        /// The key.
        var key: String
        /// Its value.
        var value: JSONTree
    }

    /// An object from `(key, value)` pairs, in order.
    static func object(_ pairs: KeyValuePairs<String, JSONTree>) -> JSONTree {
        .members(pairs.map { Member(key: $0.key, value: $0.value) })
    }

    /// A coding key for any string.
    private struct Key: CodingKey {
        /// The key as written.
        var stringValue: String
        /// Never an index.
        var intValue: Int? { nil }
        /// Any string is a key.
        init(stringValue: String) { self.stringValue = stringValue }
        /// Objects only: no integer keys.
        init?(intValue: Int) { nil }
    }

    /// Encodes the value as the JSON it stands for.
    func encode(to encoder: any Encoder) throws {
        switch self {
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .members(let members):
            var container = encoder.container(keyedBy: Key.self)
            for member in members { try container.encode(member.value, forKey: Key(stringValue: member.key)) }
        }
    }
}
