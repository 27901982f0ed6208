/// Why a request or task file was refused: the field at fault and what is wrong with it.
///
/// The message is meant for the sender; it never quotes a secret.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field at fault, in JSON-path style: `round`, `attachments[2].url`, `body`.
    public var field: String
    /// What is wrong, phrased to follow the field name: "is missing", "must be a string".
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field) \(reason)" }
}
