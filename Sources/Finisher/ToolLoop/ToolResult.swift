import Foundation

/// What one tool call returns to the model (the `tool` message's text) and how it ended.
struct ToolResult: Sendable, Equatable {
    /// The text the model reads.
    var text: String
    /// `ok`, `refused` or `failed`, for the journal.
    var outcome: ToolCallRecord.Outcome

    /// Done: `text` is the result.
    static func ok(_ text: String) -> ToolResult { ToolResult(text: text, outcome: .ok) }
    /// Not done, because of a rule: `reason` says which and what to do instead.
    static func refused(_ reason: String) -> ToolResult { ToolResult(text: "Refused: " + reason, outcome: .refused) }
    /// Attempted and failed: `reason` says why.
    static func failed(_ reason: String) -> ToolResult { ToolResult(text: "Failed: " + reason, outcome: .failed) }
}
