import Foundation

/// Polls a published site until it answers 200 with the new commit's `index.html`, with
/// back-off, within a budget. Serving the old content is "not yet", not success.
struct PagesVerifier: Sendable {
    let client: WebClient

    /// Whether the page served `expected` before the budget ran out.
    func waitUntilServed(_ pagesURL: String, expected: Data?, budget: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(budget)
        var delay: TimeInterval = 0.25
        while true {
            let timeout = max(1, min(15, deadline.timeIntervalSinceNow))
            if let response = try? await client.send("GET", pagesURL, timeout: timeout),
                response.status == 200, expected == nil || response.body == expected
            {
                return true
            }
            guard Date().addingTimeInterval(delay) < deadline else { return false }
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 10)
        }
    }
}
