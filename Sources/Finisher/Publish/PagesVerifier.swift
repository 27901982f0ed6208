import Fetch
import Foundation

/// Waits, within a budget, until a published site serves the new commit.
///
/// The page itself is the main signal and is fetched on every round (it costs no API budget):
/// it is live when it answers 200 with the new commit's `index.html`. A 200 with other bytes is
/// an older build still cached, not success. The forge's own word (`deployment`) is asked less
/// often, backing off to every 30 s: it can end the wait early when the deployment failed for
/// good, and it lets a workflow-built site whose build step rewrites `index.html` count as live
/// once its run succeeded and the page changed. `errored` builds and failed runs the forge
/// retried (`.retrying`) keep the wait going until the budget ends.
struct PagesVerifier: Sendable {
    let client: WebClient
    /// Seconds between polls of the page and of the forge (first, then growing to `most`).
    var pagePoll: (first: TimeInterval, most: TimeInterval) = (0.25, 5)
    var deploymentPoll: (first: TimeInterval, most: TimeInterval) = (2, 30)

    /// The outcome of waiting.
    enum Verdict: Sendable, Equatable {
        case live
        case notYet
        case deploymentFailed(String)
    }

    func waitUntilServed(
        _ pagesURL: String, expected: Data?, budget: TimeInterval,
        deployment: (@Sendable () async -> DeploymentState?)? = nil
    ) async -> Verdict {
        let deadline = Date().addingTimeInterval(budget)
        var pageDelay = pagePoll.first
        var deploymentDelay = deploymentPoll.first * 2
        var nextPage = Date()
        // The forge's first answer right after publishing is "building": ask after a moment.
        var nextDeployment = Date().addingTimeInterval(deploymentPoll.first)
        var state: DeploymentState?
        var lookedBeforeSuccess = false
        var servedBeforeSuccess: Data?  // the page's bytes (on a 200) while the deployment was not done
        var lastRetry: String?
        while true {
            if let deployment, Date() >= nextDeployment {
                state = await deployment() ?? state
                switch state {
                case .failed(let reason): return .deploymentFailed(reason)
                case .retrying(let reason):
                    // A new attempt started: look again soon, at the API and at the page.
                    lastRetry = reason
                    deploymentDelay = deploymentPoll.first
                    pageDelay = pagePoll.first
                default: break
                }
                nextDeployment = Date().addingTimeInterval(deploymentDelay)
                deploymentDelay = min(deploymentDelay * 2, deploymentPoll.most)
            }
            if Date() >= nextPage {
                let timeout = max(1, min(15, deadline.timeIntervalSinceNow))
                let response = try? await client.send("GET", pagesURL, timeout: timeout)
                let body = response?.status == 200 ? response?.body : nil
                if let body {
                    if expected == nil || body == expected { return .live }
                    // A build step may rewrite index.html: once the deploy succeeded, a page other
                    // than the one served before it counts. Without a look before, nothing but the
                    // expected bytes does (the old page may still be cached).
                    if state == .succeeded && lookedBeforeSuccess && body != servedBeforeSuccess { return .live }
                }
                if state != .succeeded {
                    lookedBeforeSuccess = true
                    servedBeforeSuccess = body
                }
                nextPage = Date().addingTimeInterval(pageDelay)
                pageDelay = min(pageDelay * 1.5, pagePoll.most)
            }
            let wake = deployment == nil ? nextPage : min(nextPage, nextDeployment)
            guard wake < deadline else {
                return lastRetry.map { .deploymentFailed("\($0), but the page did not serve the new commit in time") } ?? .notYet
            }
            try? await Task.sleep(for: .seconds(max(0, wake.timeIntervalSinceNow)))
        }
    }
}
