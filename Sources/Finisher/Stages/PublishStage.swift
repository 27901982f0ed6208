import Foundation
import Spool

/// `publish`: the tree becomes one commit on the repository's `main`, and Pages is set up.
struct PublishStage: PipelineStage {
    let stage = Stage.publish
    let forge: any Forge

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        let files: [String: Data]
        do {
            files = try WorkTree.files(under: task.work.tree)
        } catch {
            throw .transient("reading the generated tree: \(error)")
        }
        let request = task.request
        let commit = try await forge.publish(Publication(
            claim: task.claim, files: files, id: task.journal.id, round: request.round,
            message: CommitSubject.make(round: request.round, brief: request.brief)))
        task.journal.outputs.repoURL = commit.repoURL
        task.journal.outputs.commitSHA = commit.commitSHA
        task.journal.outputs.pagesURL = commit.pagesURL
    }
}

/// The commit's subject line, from the brief a sender wrote: `Round N: ` and the brief's first
/// line that has any text, made safe for git and for every log that shows it. Control characters
/// (NUL, which git refuses in a message, ESC, DEL, C1), line and paragraph separators and bidi
/// overrides become spaces, runs of space one space, and the line is cut at 60 characters. A
/// subject can therefore never break a commit, forge a trailer line, or spoof a terminal.
enum CommitSubject {
    static let maximumLength = 60

    static func make(round: Int, brief: String) -> String {
        var cleaned = ""
        var lastWasSpace = true
        for scalar in brief.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\u{2028}" || scalar == "\u{2029}" || scalar == "\u{85}" {
                if !cleaned.isEmpty { break }  // the first line with any text
                continue
            }
            let unsafe = scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
                || scalar.properties.isWhitespace
            if unsafe {
                if !lastWasSpace { cleaned += " " }
                lastWasSpace = true
            } else {
                cleaned.unicodeScalars.append(scalar)
                lastWasSpace = false
            }
        }
        cleaned = cleaned.trimmingCharacters(in: .whitespaces)
        if cleaned.count > maximumLength {
            cleaned = String(cleaned.prefix(maximumLength - 1)).trimmingCharacters(in: .whitespaces) + "…"
        }
        return "Round \(round): \(cleaned.isEmpty ? "(no text)" : cleaned)"
    }
}
