import Foundation
@testable import SiteCheck
import Spool
import TestSupport

/// Built trees written to a temporary directory, and settings for a real Chromium run with
/// short bounds (the machine is shared; the bounds are what is tested, not the speed).
enum SiteFixtures {
    static func tree(_ files: [String: String]) throws -> String {
        let root = "\(Paths.temporaryRoot)/llm-deploy-sitecheck-\(UUID().uuidString.prefix(8))"
        for (path, text) in files {
            let url = URL(fileURLWithPath: "\(root)/\(path)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    static func settings() -> CheckSettings {
        var settings = CheckSettings.located(workRoot: "\(Paths.temporaryRoot)/llm-deploy-sitecheck-runs")
        settings.startupTimeout = 40
        settings.pageLoadTimeout = 4
        settings.networkIdleTimeout = 2
        settings.checkTimeout = 2
        settings.runBudget = 60
        return settings
    }

    /// Runs `checks` on `files` in a browser of its own and returns the report with what the
    /// run left alive afterwards (which must be nothing).
    static func run(_ checks: [String], on files: [String: String], settings: CheckSettings = settings()) async throws -> (report: CheckReport, leftovers: [pid_t]) {
        let tree = try tree(files)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        let session = try await CheckSession.start(settings)
        let report = await session.run(checks: checks, tree: tree, repository: "sales-summary-1a2b3")
        let groups = groups(of: session.runDirectory)
        await session.close()
        return (report, leftovers(of: session.runDirectory, groups: groups))
    }

    /// The process groups a run directory recorded (read before `close()` removes it).
    static func groups(of directory: String) -> [pid_t] {
        ((try? String(contentsOfFile: "\(directory)/groups", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Live processes in `groups` or whose command line names `directory`.
    static func leftovers(of directory: String, groups: [pid_t]) -> [pid_t] {
        ProcessTable.entries().filter { !$0.zombie && (groups.contains($0.group) || $0.commandLine.contains(directory)) }.map(\.pid)
    }

    /// The course's sum-of-sales page, rendered from a fetched CSV (so the value appears only
    /// after a request: the network-idle wait matters), no CDN.
    static let salesPage: [String: String] = [
        "index.html": """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Sales Summary x</title>
        <link rel="stylesheet" href="style.css"></head>
        <body><h1>Sales</h1>
        <table id="product-sales"><tbody></tbody></table>
        <p>Total: <span id="total-sales"></span></p>
        <script>
        fetch('data.csv').then(r => r.text()).then(text => {
          const rows = text.trim().split('\\n').slice(1).map(line => line.split(','));
          const body = document.querySelector('#product-sales tbody');
          let total = 0;
          for (const [product, sales] of rows) {
            total += parseFloat(sales);
            const tr = document.createElement('tr');
            tr.innerHTML = '<td>' + product + '</td><td>' + sales + '</td>';
            body.append(tr);
          }
          document.querySelector('#total-sales').textContent = total.toFixed(2);
        });
        </script></body></html>
        """,
        "style.css": "body { font-family: sans-serif; }\n",
        "data.csv": "product,sales\nA,10.50\nB,20\nC,11.5\n",
        "docs/index.html": "<!doctype html><title>Docs</title><p>docs</p>\n",
        "assets/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>\n",
    ]
}
