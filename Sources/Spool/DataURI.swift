internal import FoundationEssentials

/// An RFC 2397 `data:` URI: `data:[<media type>][;base64],<data>`.
///
/// Parsing checks the syntax; `bytes()` decodes the payload. Both fail with a reason that
/// can follow the field name in an error message.
public struct DataURI: Sendable, Equatable {
    /// The media type with its parameters, `text/plain;charset=US-ASCII` when the URI names none.
    public var mediaType: String
    /// Whether the payload is base64; otherwise it is percent-encoded text.
    public var isBase64: Bool
    /// The encoded payload after the comma.
    public var payload: Substring

    /// Parses `uri`, which must start with `data:` (case-insensitive).
    public init(parsing uri: String) throws(RequestError) {
        guard uri.utf8.count >= 5, uri.prefix(5).lowercased() == "data:" else {
            throw RequestError(field: "", reason: "is not a data: URI")
        }
        let rest = uri.dropFirst(5)
        guard let comma = rest.firstIndex(of: ",") else {
            throw RequestError(field: "", reason: "is a data: URI without a comma before its data")
        }
        var parameters = rest[..<comma].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        isBase64 = parameters.count > 1 && parameters.last?.lowercased() == "base64"
        if isBase64 { parameters.removeLast() }
        let type = parameters.first ?? ""
        guard type.isEmpty || Self.isMediaType(type) else {
            throw RequestError(field: "", reason: "has a malformed media type")
        }
        for parameter in parameters.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, Self.isToken(pair[0]), !pair[1].isEmpty,
                pair[1].unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
            else {
                throw RequestError(field: "", reason: "has a malformed media type parameter")
            }
        }
        mediaType = type.isEmpty ? "text/plain;charset=US-ASCII" : parameters.joined(separator: ";")
        payload = rest[rest.index(after: comma)...]
    }

    /// The decoded payload bytes.
    public func bytes() throws(RequestError) -> [UInt8] {
        isBase64 ? try Self.decodeBase64(payload) : try Self.decodePercent(payload)
    }

    /// Decodes standard base64, tolerating line breaks and missing `=` padding (both seen from
    /// real encoders) but nothing else.
    static func decodeBase64(_ text: Substring) throws(RequestError) -> [UInt8] {
        var compact = text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0x20 || $0 == 0x09 })
            ? String(text.filter { !$0.isWhitespace }) : String(text)
        if compact.utf8.count % 4 == 1 {
            throw RequestError(field: "", reason: "has base64 data of impossible length")
        }
        while compact.utf8.count % 4 != 0 { compact.append("=") }
        guard let data = Data(base64Encoded: compact) else {
            throw RequestError(field: "", reason: "has data that is not valid base64")
        }
        return [UInt8](data)
    }

    static func decodePercent(_ text: Substring) throws(RequestError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw RequestError(field: "", reason: "has a malformed percent-escape in its data")
            }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func isMediaType(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && isToken(parts[0]) && isToken(parts[1])
    }

    /// RFC 7230 `token`: visible ASCII except separators.
    private static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && !"()<>@,;:\\\"/[]?={}".utf8.contains(byte)
        }
    }
}
