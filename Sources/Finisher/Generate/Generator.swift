import Foundation
import Spool

/// An attachment as received: its name, declared media type and bytes.
struct ReceivedAttachment: Sendable, Equatable {
    var name: String
    var mediaType: String
    var bytes: Data
}

/// What a generator is asked to do: build (round 1) or change (round ≥ 2) a repository's files.
struct GenerationBrief: Sendable {
    var request: TaskRequest
    var attachments: [ReceivedAttachment]
    /// The repository's current files, for round ≥ 2 (empty for round 1).
    var existingFiles: [String: Data]
    /// Why an earlier answer for this brief was refused (the secret gate's findings, failed
    /// checks), for a generator that can take it into account.
    var feedback: String? = nil
    /// Runs the checks in a browser for the tool loop's `run_checks`; `nil` (the tool is not
    /// offered) when checks are off, Chromium is missing, or no check runs in the page.
    var checkRunner: ToolCheckRunner? = nil

    /// This round's attachments' bytes by name (a name given twice keeps its first).
    var attachmentFiles: [String: Data] {
        Dictionary(attachments.map { ($0.name, $0.bytes) }) { first, _ in first }
    }
}

/// The `Generator` seam (docs/architecture.md): files for a brief. Paths are relative; the
/// pipeline validates them, adds the attachments, LICENSE and README, and never executes anything.
protocol Generator: Sendable {
    /// Recorded in the journal (`template`, or the model's name).
    var name: String { get }

    /// The complete new tree and how it was made, within `budget` seconds.
    func generate(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> GenerationReport
}
