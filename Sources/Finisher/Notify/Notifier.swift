import Fetch
import Foundation
import Spool

/// The notification (docs/protocol.md): the request's identity and where the round landed.
struct NotificationPayload: Sendable, Codable, Equatable {
    var email: String
    var task: String
    var round: Int
    var nonce: String
    var repoURL: String
    var commitSHA: String
    var pagesURL: String

    enum CodingKeys: String, CodingKey {
        case email, task, round, nonce
        case repoURL = "repo_url", commitSHA = "commit_sha", pagesURL = "pages_url"
    }
}

/// The `Notifier` seam: one delivery attempt. Retrying is the pipeline's business.
protocol Notifier: Sendable {
    /// POSTs `payload` to `url`; returns the HTTP status, or throws when no answer came.
    func deliver(_ payload: NotificationPayload, to url: String, timeout: TimeInterval) async throws(WebClient.Failure) -> Int
}

/// POST with `Content-Type: application/json`; only the status matters.
struct HTTPNotifier: Notifier {
    let client: WebClient

    func deliver(_ payload: NotificationPayload, to url: String, timeout: TimeInterval) async throws(WebClient.Failure) -> Int {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(payload)) ?? Data()
        return try await client.send(
            "POST", url, headers: ["Content-Type": "application/json", "Accept": "application/json"], body: body,
            timeout: timeout, maximumBytes: 1 << 20
        ).status
    }
}

/// The resend schedule: 1, 2, 4, 8 … seconds, capped.
struct NotificationSchedule: Sendable {
    var first: TimeInterval = 1
    var cap: TimeInterval = 60
    /// Past this much waiting in one process, the task is deferred instead of holding its slot.
    var inProcessLimit: TimeInterval = 64

    func delay(afterAttempt attempt: Int) -> TimeInterval {
        min(cap, first * pow(2, Double(max(0, attempt - 1))))
    }
}
