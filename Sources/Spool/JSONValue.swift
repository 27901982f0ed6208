internal import FoundationEssentials

/// Any JSON document, decoded without a schema so that validation can say exactly which
/// field is wrong and why (a `Decodable` struct would only say "keyNotFound").
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `data` as one JSON document.
    ///
    /// UTF-8 input (the only encoding RFC 8259 allows between systems) is read in one pass by
    /// `JSONParser`; input in UTF-16 or UTF-32, which Foundation's `JSONDecoder` recognises by its
    /// zero bytes or byte-order mark, still goes through `JSONDecoder`, so both accept the same.
    /// - Throws: `RequestError` for field `body` when the bytes are not JSON.
    public static func parse(_ data: some Collection<UInt8>) throws(RequestError) -> JSONValue {
        let parsed = data.withContiguousStorageIfAvailable { bytes in Self.parse(buffer: bytes) }
            ?? Array(data).withUnsafeBufferPointer { Self.parse(buffer: $0) }
        guard let parsed else { throw RequestError(field: "body", reason: "is not valid JSON") }
        return parsed
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        if JSONParser.mayBeWideEncoding(buffer) {
            return try? JSONDecoder().decode(WideEncoded.self, from: Data(buffer)).value
        }
        var parser = JSONParser(buffer)
        return parser.document()
    }

    /// The JSON type name, as used in error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// `JSONDecoder`'s reading of a document, probing each value's type in turn: used for UTF-16 or
/// UTF-32 input (rare; never on the fast path), and the reference the single-pass parser's tests
/// compare it with.
struct WideEncoded: Decodable {
    var value: JSONValue

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let text = try? container.decode(String.self) {
            value = .string(text)
        } else if let object = try? container.decode([String: WideEncoded].self) {
            value = .object(object.mapValues(\.value))
        } else if let array = try? container.decode([WideEncoded].self) {
            value = .array(array.map(\.value))
        } else if let flag = try? container.decode(Bool.self) {
            value = .bool(flag)
        } else if let integer = try? container.decode(Int64.self) {
            value = .integer(integer)
        } else {
            value = .number(try container.decode(Double.self))
        }
    }
}
