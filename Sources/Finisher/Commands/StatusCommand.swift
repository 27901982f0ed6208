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
            let rows = TaskStatus.all(in: spool)
            if json {
                print(String(decoding: try TaskStatus.encoder.encode(rows), as: UTF8.self))
                return
            }
            print(StatusRow.table(rows))
        }
    }
}

/// The operator's table of `TaskStatus` rows (postqueue -p).
enum StatusRow {
    static func table(_ rows: [TaskStatus]) -> String {
        let header = ["ID", "TASK", "ROUND", "STATE", "STAGE", "AGE", "NEXT ATTEMPT", "CHECKS", "LAST ERROR"]
        let now = Date()
        let lines = rows.map { row -> [String] in
            let received = row.receivedAt.map { age(now.timeIntervalSince($0)) } ?? "-"
            let next = row.nextAttemptAt.map { "in " + age($0.timeIntervalSince(now)) } ?? "-"
            let error = String((row.lastError ?? "-").replacingOccurrences(of: "\n", with: " ").prefix(70))
            let round = row.round.map(String.init) ?? "?"
            return [String(row.id.prefix(32)), String((row.task ?? "?").prefix(32)), round, row.state.rawValue,
                    row.stage ?? "-", received, next, row.checks ?? "-", error]
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
