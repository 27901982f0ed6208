/// The spool identity of a task round: 32 lowercase hex digits derived from
/// (email, task, round, nonce), so a resent request maps to the same file.
public struct TaskID: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// Derives the ID. Fields are length-prefixed so that no two tuples share an encoding.
    public init(email: String, task: String, round: Int, nonce: String) {
        var hasher = SHA256()
        for field in [email, task, String(round), nonce] {
            hasher.update(String(field.utf8.count).utf8)
            hasher.update(CollectionOfOne(UInt8(ascii: ":")))
            hasher.update(field.utf8)
        }
        let hex: StaticString = "0123456789abcdef"
        var text = [UInt8]()
        text.reserveCapacity(32)
        for byte in hasher.finalize().prefix(16) {
            text.append(hex.utf8Start[Int(byte >> 4)])
            text.append(hex.utf8Start[Int(byte & 0xF)])
        }
        rawValue = String(decoding: text, as: UTF8.self)
    }

    /// Accepts only the derived form (so an ID from a command line can name a spool file safely).
    public init?(_ text: String) {
        guard text.utf8.count == 32, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        rawValue = text
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = TaskID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a task ID"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }
}
