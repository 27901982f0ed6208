import Foundation
import Spool

/// `scan`: the secret gate. A tree with a credential in it is never published; a model that
/// wrote one is asked once more, told why, and if it does again the offline template is
/// published instead, so the sender is still notified. Only a tree whose credential comes from
/// the request itself (a brief or attachment the template copies) fails the task.
struct ScanStage: PipelineStage {
    let stage = Stage.scan
    let scanner: SecretScanner
    let generation: GenerateStage

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        var findings = try scan(task)
        if !findings.isEmpty && generation.canRegenerate(task) {
            let summary = Self.summary(findings)
            task.logger.warning("credentials in the generated tree; regenerating once", metadata: ["findings": "\(summary)"])
            try await generation.generate(
                &task,
                feedback: "The previous answer was refused because it contained credential-like values at: \(summary). Do not include any keys, tokens or secrets.")
            findings = try scan(task)
        }
        if !findings.isEmpty && generation.canRegenerate(task) {
            task.logger.warning("credentials in the regenerated tree; publishing the offline template instead",
                                metadata: ["findings": "\(Self.summary(findings))"])
            try await generation.generateWithFallback(&task)
            findings = try scan(task)
        }
        guard findings.isEmpty else {
            throw .permanent("credentials found, push blocked: " + Self.summary(findings))
        }
    }

    private func scan(_ task: TaskRun) throws(PipelineError) -> [SecretFinding] {
        do {
            return scanner.scan(try WorkTree.files(under: task.work.tree))
        } catch {
            throw .transient("reading the generated tree: \(error)")
        }
    }

    private static func summary(_ findings: [SecretFinding]) -> String {
        findings.prefix(10).map(\.description).joined(separator: "; ")
    }
}
