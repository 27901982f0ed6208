import Foundation

/// What a generation produced: the complete new tree, and how it was made, for the journal and
/// for the repository's documents.
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

    /// The complete new tree (round ≥ 2: existing files that are left out are deleted).
    var tree: [String: Data]
    /// How an LLM produced it; `nil` for a generator without modes (the offline template).
    var mode: Mode? = nil
    /// Every tool call, in order (empty for a single answer without a tool loop before it).
    var toolCalls: [ToolCallRecord] = []
    /// The generator's own summary of the change, when it gave one.
    var summary: String? = nil
    /// Whether the generator wrote README.md itself; when it did not in round ≥ 2, the tree's
    /// assembly records the round's change in the README.
    var wroteReadme = true
    /// This round's attachments the generator wrote a file over (a brief asking to fix an
    /// attached script): their new content is in `tree`, and the assembly keeps it.
    var replacedAttachments: [String] = []
}
