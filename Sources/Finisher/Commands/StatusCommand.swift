import ArgumentParser
import Foundation
import Spool

extension FinisherCommand {
    /// `status`: the spool as a table (postqueue -p), or JSON.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every task in the spool with its state, stage and last error.")

        @Flag(help: "Print JSON, one object per task.")
        var json = false

        func run() throws {
            let environment = ServiceEnvironment()
            let spool: SpoolDirectory
            do {
                spool = try SpoolDirectory(root: environment.spoolRoot)
            } catch {
                throw ValidationError("\(error)")
            }
            let rows = StatusRow.all(in: spool)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(rows), as: UTF8.self))
                return
            }
            print(StatusRow.table(rows))
        }
    }
}

/// One task as `status` shows it.
struct StatusRow: Codable, Sendable {
    var id: String
    var task: String?
    var round: Int?
    var state: SpoolState
    var stage: String?
    var receivedAt: Date?
    var nextAttemptAt: Date?
    var repoURL: String?
    var commitSHA: String?
    var pagesURL: String?
    var lastError: String?

    enum CodingKeys: String, CodingKey {
        case id, task, round, state, stage
        case receivedAt = "received_at", nextAttemptAt = "next_attempt_at"
        case repoURL = "repo_url", commitSHA = "commit_sha", pagesURL = "pages_url", lastError = "last_error"
    }

    static func all(in spool: SpoolDirectory) -> [StatusRow] {
        SpoolState.allCases.flatMap { state in
            spool.entries(in: state).map { name in row(name, state: state, spool: spool) }
        }
    }

    static func row(_ name: String, state: SpoolState, spool: SpoolDirectory) -> StatusRow {
        let request = try? TaskRequest.decodeSpoolFile(spool.contents(of: name, in: state))
        let journal = TaskID(name).flatMap { try? spool.readJournal($0) }
        return StatusRow(
            id: name, task: request?.task, round: request?.round, state: state,
            stage: state == .done ? "-" : journal?.currentStage?.rawValue ?? (state == .incoming ? "queued" : nil),
            receivedAt: journal?.receivedAt ?? request?.receivedAt, nextAttemptAt: journal?.nextAttemptAt,
            repoURL: journal?.outputs.repoURL, commitSHA: journal?.outputs.commitSHA, pagesURL: journal?.outputs.pagesURL,
            lastError: journal?.lastError ?? spool.rejectionReason(name))
    }

    static func table(_ rows: [StatusRow]) -> String {
        let header = ["ID", "TASK", "ROUND", "STATE", "STAGE", "AGE", "NEXT ATTEMPT", "LAST ERROR"]
        let now = Date()
        let lines = rows.map { row -> [String] in
            let received = row.receivedAt.map { age(now.timeIntervalSince($0)) } ?? "-"
            let next = row.nextAttemptAt.map { "in " + age($0.timeIntervalSince(now)) } ?? "-"
            let error = String((row.lastError ?? "-").replacingOccurrences(of: "\n", with: " ").prefix(70))
            let round = row.round.map(String.init) ?? "?"
            return [String(row.id.prefix(32)), String((row.task ?? "?").prefix(32)), round, row.state.rawValue,
                    row.stage ?? "-", received, next, error]
        }
        guard !lines.isEmpty else { return "The spool is empty." }
        let widths = header.indices.map { column in ([header] + lines).map { $0[column].count }.max()! }
        return ([header] + lines).map { cells in
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func age(_ seconds: TimeInterval) -> String {
        let value = max(0, Int(seconds))
        if value < 120 { return "\(value)s" }
        if value < 7200 { return "\(value / 60)m" }
        return "\(value / 3600)h"
    }
}
