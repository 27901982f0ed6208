import Foundation

/// chromedriver in its own process group with one headless Chromium session whose profile is
/// fresh (a new directory in the run directory). `close()` kills the whole group: chromedriver,
/// Chromium and every renderer, whatever state they are in.
final class Browser: Sendable {
    let session: WebDriverSession
    private let driver: GroupLeader

    private init(session: WebDriverSession, driver: GroupLeader) {
        self.session = session
        self.driver = driver
    }

    static func start(settings: CheckSettings, in run: RunDirectory, generation: Int) async throws(SiteCheckError) -> Browser {
        guard let chromium = settings.chromium else { throw .notInstalled("chromium") }
        guard let chromedriver = settings.chromedriver else { throw .notInstalled("chromedriver") }
        let port = LoopbackPort.free()
        let profile = "\(run.path)/profile/\(generation)"
        try? FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
        // The log path puts the run directory on chromedriver's command line: the reaper
        // recognises the group by it.
        let driver = try GroupLeader.spawn(
            chromedriver, ["--port=\(port)", "--log-path=\(run.path)/chromedriver.log", "--log-level=WARNING"],
            environment: run.childEnvironment, logPath: "\(run.path)/chromedriver.out")
        run.record(driver)
        do {
            let deadline = Date().addingTimeInterval(settings.startupTimeout)
            while !LoopbackPort.isListening(port) {
                guard driver.isRunning else { throw SiteCheckError.didNotStart("chromedriver", "exited: \(driver.logTail)") }
                guard Date() < deadline else { throw SiteCheckError.didNotStart("chromedriver", "not listening after \(Int(settings.startupTimeout)) s") }
                try? await Task.sleep(for: .milliseconds(20))
            }
            let remaining = max(1, deadline.timeIntervalSinceNow)
            let session: WebDriverSession
            do {
                session = try await WebDriverSession.create(
                    port: port, chromium: chromium, profile: profile, sandbox: !settings.runningAsRoot,
                    pageLoad: settings.pageLoadTimeout, script: settings.checkTimeout + 1, timeout: remaining)
            } catch {
                throw SiteCheckError.sessionRefused(error.description)
            }
            let browser = Browser(session: session, driver: driver)
            // Before any page script runs, on every document this tab loads. A renderer that is
            // slow to answer its first message (a loaded machine) gets a second try within the
            // start-up budget.
            var tries = 0
            while true {
                do {
                    try await session.devTools(
                        "Page.addScriptToEvaluateOnNewDocument", ["source": PageHooks.install], timeout: max(5, deadline.timeIntervalSinceNow))
                    break
                } catch {
                    tries += 1
                    guard tries < 2, deadline.timeIntervalSinceNow > 1 else {
                        throw SiteCheckError.sessionRefused("cannot install the page hooks: \(error)")
                    }
                }
            }
            return browser
        } catch let error as SiteCheckError {
            driver.killGroup()
            throw error
        } catch {
            driver.killGroup()
            throw .didNotStart("chromedriver", "\(error)")
        }
    }

    func close() { driver.killGroup() }
}
