import Foundation

/// A `Generator` that can also say how it produced the files and which tools it called, for
/// the journal (issue 6). The pipeline asks for the report when the generator offers one and
/// the tree alone otherwise.
protocol ReportingGenerator: Generator {
    /// The complete new tree with its report, within `budget` seconds.
    func generateReport(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> GenerationReport
}

extension ReportingGenerator {
    /// The tree alone.
    func generate(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> [String: Data] {
        try await generateReport(brief, budget: budget).tree
    }
}
