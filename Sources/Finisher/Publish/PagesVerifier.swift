import Fetch
import Foundation

/// Polls a published site until it answers 200 with the new commit's `index.html`, with
/// back-off, within a budget. Serving the old content is "not yet", not success. When the forge
/// deploys the site with a workflow, that run's success is required too, and the page need only
/// answer 200 (a build step may change its bytes).
struct PagesVerifier: Sendable {
    let client: WebClient

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
        var delay: TimeInterval = 0.25
        while true {
            let state = await deployment?()
            if case .failed(let reason) = state { return .deploymentFailed(reason) }
            let timeout = max(1, min(15, deadline.timeIntervalSinceNow))
            if state != .pending, let response = try? await client.send("GET", pagesURL, timeout: timeout), response.status == 200,
                state == .succeeded || expected == nil || response.body == expected
            {
                return .live
            }
            guard Date().addingTimeInterval(delay) < deadline else { return .notYet }
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 10)
        }
    }
}
