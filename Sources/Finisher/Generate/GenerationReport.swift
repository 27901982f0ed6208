import Foundation

/// What a generation produced besides its files: how it was made and the tool calls it made,
/// for the task's journal.
struct GenerationReport: Sendable {
    /// How the files were produced.
    enum Mode: String, Sendable, Codable {
        /// The tool loop ended with `finish`.
        case tools
        /// The tool loop ended at its budget; the files written by then were used.
        case toolsStopped = "tools-stopped"
        /// One JSON answer (no tool support, or the tool loop gave nothing).
        case singleAnswer = "single-answer"
    }

    /// The complete new tree, as `Generator.generate` returns it.
    var tree: [String: Data]
    /// How it was produced.
    var mode: Mode
    /// Every tool call, in order (empty for a single answer without a tool loop before it).
    var toolCalls: [ToolCallRecord]
}
