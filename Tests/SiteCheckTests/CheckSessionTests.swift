import Foundation
@testable import SiteCheck
import Spool
import Testing
import TestSupport

/// The brief's checks in Debian's real headless Chromium, driven by the real chromedriver,
/// against the tree served by real nginx. One browser per test (serialized: the machine has
/// two cores).
@Suite(.serialized) struct CheckSessionTests {
    @Test func aGoodPagePassesAndPagesSemanticsHold() async throws {
        let checks = [
            "js: document.title === 'Sales Summary x'",
            "js: !!document.querySelector(\"link[href*='style.css']\")",
            // Rendered after a fetch: passes only because the run waits for the network to be idle.
            "js: document.querySelector('#total-sales').textContent === '42.00'",
            "document.querySelectorAll('#product-sales tbody tr').length === 3",
            "js: fetch('docs/').then(r => r.ok && r.headers.get('content-type').startsWith('text/html'))",
            "js: fetch('docs').then(r => r.redirected && r.url.endsWith('/docs/'))",
            "js: fetch('style.css').then(r => r.headers.get('content-type').startsWith('text/css'))",
            "js: fetch('assets/logo.svg').then(r => r.headers.get('content-type').startsWith('image/svg+xml'))",
            "Repo has MIT license",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: SiteFixtures.salesPage)
        #expect(report.results.map(\.status) == Array(repeating: .passed, count: 8) + [.needsJudgement], "\(report.results)")
        #expect(report.summary == "checks 8/8, 1 to judge")
        #expect(report.evidence.isEmpty, "\(report.evidence)")
        #expect(report.browserVersion?.isEmpty == false)
        if geteuid() == 0 { #expect(report.notes.contains { $0.contains("--no-sandbox") }) }
        #expect(leftovers.isEmpty, "processes left: \(leftovers)")
    }

    /// A state directory deeper than about 40 bytes (an operator's `LLM_DEPLOY_HOME`) once put
    /// Chromium's singleton socket past the 107-byte limit of a Unix socket path, and Chromium
    /// exited at start. Its temporary directory is short whatever the root, and goes with the run.
    @Test func aDeepWorkRootStillStartsTheBrowserAndLeavesNothing() async throws {
        let top = "\(Paths.temporaryRoot)/llm-deploy-deep-\(UUID().uuidString)"
        let deep = "\(top)/var/lib/a-rather-long-state-directory/data/check"
        defer { try? FileManager.default.removeItem(atPath: top) }
        var settings = SiteFixtures.settings()
        settings.workRoot = deep
        let session = try await CheckSession.start(settings)
        let temporary = RunDirectory(path: session.runDirectory).browserTemporary
        #expect(temporary.utf8.count + ".org.chromium.Chromium.XXXXXX/SingletonSocket".utf8.count + 1 <= 107)
        #expect(FileManager.default.fileExists(atPath: temporary))
        let tree = try SiteFixtures.tree(SiteFixtures.salesPage)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        let report = await session.run(checks: ["js: document.title === 'Sales Summary x'"], tree: tree, repository: "sales-summary-1a2b3")
        await session.close()
        #expect(report.results.map(\.status) == [.passed], "\(report.results) \(report.evidence)")
        #expect(!FileManager.default.fileExists(atPath: temporary))
        #expect(!FileManager.default.fileExists(atPath: session.runDirectory))
    }

    @Test func missingFilesAndDirectoriesAre404WithoutAListing() async throws {
        var files = SiteFixtures.salesPage
        files["index.html"]! += "<script src=\"app.js\"></script><img src=\"img/missing.png\">\n"
        let checks = [
            "js: fetch('assets/').then(r => r.status === 404)",
            "js: fetch('nothing.txt').then(r => r.status)",
            "js: fetch('/').then(r => r.status === 404)",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: files)
        #expect(report.results[0].status == .passed, "\(report.results[0])")
        #expect(report.results[1].status == .passed)
        #expect(report.results[1].reason == "returned number 404, not a boolean (truthy)")
        #expect(report.results[2].status == .passed)
        let requests = report.evidence.failedRequests
        #expect(requests.contains("404 GET /sales-summary-1a2b3/app.js"), "\(requests)")
        #expect(requests.contains("404 GET /sales-summary-1a2b3/img/missing.png"), "\(requests)")
        #expect(requests.contains { $0.contains("failed to load") && $0.hasSuffix("/app.js") }, "\(requests)")
        #expect(leftovers.isEmpty)
    }

    @Test func aWrongIdAndAWrongTitleFailWithTheirReasons() async throws {
        var files = SiteFixtures.salesPage
        files["index.html"] = files["index.html"]!.replacingOccurrences(of: "total-sales", with: "totalSales")
            .replacingOccurrences(of: "Sales Summary x", with: "Sales Summary")
        let checks = [
            "js: document.querySelector('#total-sales').textContent.length > 0",
            "js: document.title === 'Sales Summary x'",
            "js: parseFloat(document.querySelector('#totalSales').textContent) === 42",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: files)
        #expect(report.results[0].status == .failed)
        #expect(report.results[0].reason?.hasPrefix("threw TypeError: Cannot read properties of null") == true, "\(report.results[0])")
        #expect(report.results[1] == CheckResult(check: checks[1], status: .failed, reason: "returned false", seconds: report.results[1].seconds))
        #expect(report.results[2].status == .passed)
        #expect(report.summary == "checks 1/3")
        #expect(leftovers.isEmpty)
    }

    @Test func anExceptionThatStopsRenderingIsEvidence() async throws {
        let files = ["index.html": """
            <!doctype html><title>t</title><div id="app"></div>
            <script>console.error('could not render', {code: 7});
            Promise.reject(new Error('late'));
            const rows = undefinedRows.map(r => r);
            document.querySelector('#app').innerHTML = '<p id="total">1</p>';</script>
            """]
        let (report, leftovers) = try await SiteFixtures.run(["js: !!document.querySelector('#total')"], on: files)
        #expect(report.results[0].status == .failed)
        #expect(report.evidence.exceptions.contains { $0.contains("undefinedRows is not defined") && $0.contains("/sales-summary-1a2b3/:4") }, "\(report.evidence)")
        #expect(report.evidence.exceptions.contains { $0.contains("unhandled rejection") && $0.contains("late") })
        #expect(report.evidence.consoleErrors == ["could not render {\"code\":7}"])
        #expect(leftovers.isEmpty)
    }

    @Test func invalidJavaScriptIsAnErrorAndProseIsForJudgement() async throws {
        let checks = [
            "js: document.querySelector('#x' ===",
            "The document.title reads like a sales report",
            "README.md is professional",
            "js: true;",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: SiteFixtures.salesPage)
        #expect(report.results[0].status == .error)
        #expect(report.results[0].reason?.hasPrefix("not valid JavaScript: Unexpected token") == true, "\(report.results[0])")
        #expect(report.results[1].status == .needsJudgement, "\(report.results[1])")
        #expect(report.results[2].status == .needsJudgement)
        #expect(report.results[3].status == .passed)
        #expect(report.summary == "checks 1/2, 2 to judge")
        #expect(leftovers.isEmpty)
    }

    @Test func nonBooleansFunctionsAndPromisesAreReported() async throws {
        let checks = [
            "js: document.querySelectorAll('#product-sales tbody tr').length",
            "js: document.querySelector('#nothing')",
            "js: document.querySelector('h1')",
            "js: Promise.resolve('ok')",
            "js: new Promise(() => {})",
            "js: async () => document.title === 'Sales Summary x'",
            "js: Promise.reject(new RangeError('no'))",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: SiteFixtures.salesPage)
        let reasons = report.results.map { "\($0.status.rawValue): \($0.reason ?? "")" }
        #expect(reasons == [
            "passed: returned number 3, not a boolean (truthy)",
            "failed: returned null null, not a boolean (falsy)",
            "passed: returned object <h1>, not a boolean (truthy)",
            "passed: returned string \"ok\", not a boolean (truthy)",
            "failed: did not settle within 2 s",
            "passed: ",
            "failed: threw RangeError: no",
        ])
        #expect(leftovers.isEmpty)
    }

    @Test func aCheckThatLoopsForeverCostsOneRestart() async throws {
        let checks = [
            "js: document.title === 'Sales Summary x'",
            "js: (() => { while (true) {} })()",
            "js: document.querySelector('#total-sales').textContent === '42.00'",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: SiteFixtures.salesPage)
        #expect(report.results.map(\.status) == [.passed, .error, .passed], "\(report.results)")
        #expect(report.results[1].reason?.contains("endless loop") == true)
        #expect(report.notes.contains { $0.hasPrefix("browser restarted") })
        // Bounded: the hung check costs its timeout plus a fresh browser, not the run budget.
        #expect(report.seconds < 45)
        #expect(leftovers.isEmpty)
    }

    @Test func aPageThatLoopsForeverIsReportedNotWaitedFor() async throws {
        let files = ["index.html": "<!doctype html><title>t</title><p id=a>a</p><script>while (true) {}</script>"]
        var settings = SiteFixtures.settings()
        settings.pageLoadTimeout = 2
        let (report, leftovers) = try await SiteFixtures.run(["js: !!document.querySelector('#a')", "js: true", "LICENSE is MIT"], on: files, settings: settings)
        #expect(report.results.map(\.status) == [.error, .error, .needsJudgement], "\(report.results)")
        #expect(report.results[0].reason?.contains("loop forever") == true)
        #expect(report.evidence.loadProblem?.contains("loop forever") == true)
        #expect(report.seconds < 45)
        #expect(leftovers.isEmpty)
    }

    @Test func alertsAreDismissedAndRecorded() async throws {
        let files = ["index.html": "<!doctype html><title>t</title><h1 id=t>Hi</h1><script>alert('welcome'); confirm('sure?')</script>"]
        let checks = [
            "js: document.querySelector('#t').textContent === 'Hi'",
            "js: (alert('from the check'), true)",
            "js: document.title === 't'",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: files)
        #expect(report.results[0].status == .passed, "\(report.results)")
        // The dialog interrupts the check's own script: no value, but the next command goes on.
        #expect(report.results[1].status == .error)
        #expect(report.results[1].reason == "no result (a dialog or a navigation interrupted it)")
        #expect(report.evidence.dialogs.contains("from the check"))
        #expect(report.results[2].status == .passed, "\(report.results)")
        #expect(report.evidence.dialogs.contains("welcome"), "\(report.evidence.dialogs)")
        #expect(report.evidence.dialogs.contains("sure?"), "\(report.evidence.dialogs)")
        #expect(leftovers.isEmpty)
    }

    @Test func aPageThatNavigatesAwayIsNoted() async throws {
        let files = [
            "index.html": "<!doctype html><title>first</title><script>location.replace('other.html')</script>",
            "other.html": "<!doctype html><title>other</title><p id=o>o</p>",
        ]
        let checks = [
            "js: document.title === 'other'",
            "js: (location.href = 'index.html', true)",
            "js: !!document.querySelector('#o') || document.title === 'first'",
        ]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: files)
        #expect(report.evidence.navigatedTo?.hasSuffix("/sales-summary-1a2b3/other.html") == true, "\(report.evidence)")
        #expect(report.results[0].status == .passed)
        #expect(report.results.count == 3)
        #expect(report.results[2].status == .passed, "\(report.results)")
        #expect(leftovers.isEmpty)
    }

    @Test func aTwentyMegabyteSiteIsServedAndChecked() async throws {
        var files = SiteFixtures.salesPage
        // 20 MB of data the page fetches and measures: served whole, within the bounds.
        files["big.txt"] = String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", count: 20 << 14)
        files["index.html"]! += "<script>fetch('big.txt').then(r => r.text()).then(t => { document.body.dataset.size = t.length; });</script>\n"
        let checks = ["js: document.body.dataset.size === String(20 * 1024 * 1024)", "js: document.title === 'Sales Summary x'"]
        let (report, leftovers) = try await SiteFixtures.run(checks, on: files)
        #expect(report.results.map(\.status) == [.passed, .passed], "\(report.results)")
        #expect(report.evidence.isEmpty)
        #expect(leftovers.isEmpty)
    }

    @Test func twoHundredChecksInOneBrowser() async throws {
        let checks = (0..<200).map { $0 % 10 == 9 ? "js: document.querySelectorAll('tbody tr').length === \($0)" : "js: document.querySelectorAll('tbody tr').length === 3" }
        let (report, leftovers) = try await SiteFixtures.run(checks, on: SiteFixtures.salesPage)
        #expect(report.results.count == 200)
        #expect(report.results.filter { $0.status == .passed }.count == 180)
        #expect(report.results.filter { $0.status == .failed }.count == 20)
        #expect(report.summary == "checks 180/200")
        #expect(leftovers.isEmpty)
    }

    @Test func chromiumKilledMidRunIsRestartedAndRecorded() async throws {
        let checks = [
            "js: document.title === 'Sales Summary x'",
            // Announces itself in the access log, then waits: the test kills Chromium meanwhile.
            "js: fetch('now-kill-the-browser').then(() => new Promise(r => setTimeout(() => r(true), 1800)))",
            "js: document.querySelectorAll('#product-sales tbody tr').length === 3",
        ]
        let tree = try SiteFixtures.tree(SiteFixtures.salesPage)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        var settings = SiteFixtures.settings()
        settings.checkTimeout = 4
        let session = try await CheckSession.start(settings)
        let directory = session.runDirectory
        let killer = Task.detached { () -> Int in
            let deadline = Date().addingTimeInterval(40)
            while Date() < deadline {
                let logs = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("nginx-") }
                if logs.contains(where: { ((try? String(contentsOfFile: "\(directory)/\($0)/access.log", encoding: .utf8)) ?? "").contains("now-kill-the-browser") }) {
                    // The browser process: the one with our profile and no --type.
                    let browsers = ProcessTable.entries().filter { $0.commandLine.contains("--user-data-dir=\(directory)") && !$0.commandLine.contains("--type=") }
                    for browser in browsers { kill(browser.pid, SIGKILL) }
                    return browsers.count
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return 0
        }
        let report = await session.run(checks: checks, tree: tree, repository: "sales-summary-1a2b3")
        let killed = await killer.value
        let groups = SiteFixtures.groups(of: directory)
        await session.close()
        #expect(killed == 1)
        #expect(report.results.map(\.status) == [.passed, .error, .passed], "\(report.results) \(report.notes)")
        #expect(report.results[1].reason?.contains("browser was lost") == true)
        #expect(report.notes.contains { $0.hasPrefix("browser restarted") })
        #expect(groups.count >= 3, "nginx, the first and the restarted chromedriver")
        #expect(SiteFixtures.leftovers(of: directory, groups: groups).isEmpty)
    }

    @Test func withoutChromiumOrChromedriverTheChecksAreSkipped() async throws {
        let tree = try SiteFixtures.tree(SiteFixtures.salesPage)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        var settings = SiteFixtures.settings()
        settings.chromium = nil
        var report = await CheckSession.run(checks: ["js: true", "Repo has MIT license"], tree: tree, repository: "r", settings: settings)
        #expect(report.results.map(\.status) == [.skipped, .needsJudgement])
        #expect(report.results[0].reason == "skipped: chromium not found")
        settings = SiteFixtures.settings()
        settings.chromedriver = nil
        report = await CheckSession.run(checks: ["js: true"], tree: tree, repository: "r", settings: settings)
        #expect(report.results[0].reason == "skipped: chromedriver not found")
        #expect(report.summary == "checks 0/0, 1 skipped")
    }

    @Test func aChromedriverThatNeverListensIsGivenUpAndKilled() async throws {
        let tree = try SiteFixtures.tree(SiteFixtures.salesPage)
        let fake = try SiteFixtures.tree([
            "hangs": "#!/bin/sh\nsleep 61.25\n",
            "exits": "#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n",
        ])
        defer { for path in [tree, fake] { try? FileManager.default.removeItem(atPath: path) } }
        for name in ["hangs", "exits"] { chmod("\(fake)/\(name)", 0o755) }
        var settings = SiteFixtures.settings()
        settings.startupTimeout = 2
        settings.chromedriver = "\(fake)/hangs"
        var report = await CheckSession.run(checks: ["js: true"], tree: tree, repository: "r", settings: settings)
        #expect(report.results[0].status == .error)
        #expect(report.results[0].reason == "not run: chromedriver did not start: not listening after 2 s")
        #expect(report.seconds < 20)
        #expect(ProcessTable.entries().filter { !$0.zombie && $0.commandLine.contains("sleep 61.25") }.isEmpty)
        settings.chromedriver = "\(fake)/exits"
        report = await CheckSession.run(checks: ["js: true"], tree: tree, repository: "r", settings: settings)
        #expect(report.results[0].reason?.hasPrefix("not run: chromedriver did not start: exited: cannot open display") == true, "\(report.results)")
    }

    @Test func whatADeadFinisherLeftIsReaped() async throws {
        let session = try await CheckSession.start(SiteFixtures.settings())
        let directory = session.runDirectory
        #expect(!session.liveProcesses().isEmpty)
        // A live owner's run is left alone.
        #expect(CheckSession.reapAbandoned(under: SiteFixtures.settings().workRoot + "/nonexistent") == 0)
        #expect(CheckSession.reapAbandoned(under: (directory as NSString).deletingLastPathComponent) == 0)
        #expect(!session.liveProcesses().isEmpty)
        // As if the Finisher that started it had died: its owner record names a gone process.
        try Data("999999999 1\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/owner"))
        let groups = try String(contentsOfFile: "\(directory)/groups", encoding: .utf8)
        #expect(CheckSession.reapAbandoned(under: (directory as NSString).deletingLastPathComponent) > 0)
        let leaders = groups.split(separator: "\n").compactMap { pid_t($0) }
        #expect(eventually { ProcessTable.entries().filter { !$0.zombie && leaders.contains($0.group) }.isEmpty })
        #expect(!FileManager.default.fileExists(atPath: directory))
        await session.close()
    }

    private func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<100 where !condition() { usleep(20_000) }
        return condition()
    }
}

/// The repair loop checks several trees in one browser: nothing of one run reaches the next.
@Suite(.serialized) struct WarmSessionTests {
    @Test func aSecondTreeInTheSameBrowserStartsClean() async throws {
        let first = try SiteFixtures.tree(["index.html": """
            <!doctype html><title>one</title><h1>one</h1>
            <script>localStorage.setItem('seen', '1'); document.cookie = 'seen=1; path=/';</script>
            """])
        let second = try SiteFixtures.tree(["index.html": "<!doctype html><title>two</title><h1>two</h1>"])
        defer { for tree in [first, second] { try? FileManager.default.removeItem(atPath: tree) } }
        let session = try await CheckSession.start(SiteFixtures.settings())
        let checks = ["js: document.title === 'two'", "js: localStorage.getItem('seen') === null", "js: document.cookie === ''"]
        let one = await session.run(checks: checks, tree: first, repository: "r")
        let two = await session.run(checks: checks, tree: second, repository: "r")
        let groups = SiteFixtures.groups(of: session.runDirectory)
        await session.close()
        #expect(one.results.map(\.status) == [.failed, .failed, .failed], "\(one.results)")
        #expect(two.results.map(\.status) == [.passed, .passed, .passed], "\(two.results)")
        let left = SiteFixtures.leftovers(of: session.runDirectory, groups: groups)
        #expect(left.isEmpty, "\(ProcessTable.entries().filter { left.contains($0.pid) }.map { "\($0.group) \($0.commandLine.prefix(150))" }) \(groups)")
    }
}
