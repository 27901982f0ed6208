import ArgumentParser
import Foundation
import SiteCheck
import Spool

extension FinisherCommand {
    /// `check`: what the check stage does, on any directory: serve it as GitHub Pages would,
    /// load it in headless Chromium, evaluate the checks. For operators trying a brief's checks
    /// and for bench/check (which times `--runs` runs in one browser).
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run checks against a directory served under /REPOSITORY/ in headless Chromium; exit 1 when one does not pass.")

        @Argument(help: "The site's directory (index.html at its root).")
        var tree: String

        @Option(name: .customLong("check"), help: "A check, as a brief writes it (`js: …` or prose); repeatable.")
        var checks: [String] = []

        @Option(help: "The repository name the site is served under.")
        var repository = "site"

        @Option(help: "Run the checks this many times in the same browser (the first run pays for its start).")
        var runs = 1

        @Flag(help: "Print the last run's report as JSON.")
        var json = false

        func validate() throws {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: tree, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("\(tree) is not a directory")
            }
            guard !checks.isEmpty else { throw ValidationError("give at least one --check") }
            guard (1...100).contains(runs) else { throw ValidationError("--runs must be 1…100") }
        }

        func run() async throws {
            let directory = URL(fileURLWithPath: tree).standardizedFileURL.path
            let settings = CheckSettings.located(workRoot: FileManager.default.temporaryDirectory.path + "/llm-deploy-check-\(getpid())")
            defer { try? FileManager.default.removeItem(atPath: settings.workRoot) }
            let started = Date()
            let session: CheckSession
            do {
                session = try await CheckSession.start(settings)
            } catch {
                throw ValidationError("\(error)")
            }
            print("browser start: \(Self.seconds(since: started)) s")
            var last: CheckReport?
            for index in 1...runs {
                let report = await session.run(checks: checks, tree: directory, repository: repository)
                print("run \(index): \(report.seconds) s, \(report.summary)")
                last = report
            }
            await session.close()
            guard let last else { return }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(last), as: UTF8.self))
            } else {
                for result in last.results { print("\(result.status.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(result.check)\(result.reason.map { " — \($0)" } ?? "")") }
                for line in last.evidence.lines + last.notes { print("  \(line)") }
            }
            if last.results.contains(where: { $0.status == .failed || $0.status == .error }) { throw ExitCode(1) }
        }

        static func seconds(since date: Date) -> Double { (Date().timeIntervalSince(date) * 1000).rounded() / 1000 }
    }
}
