import Fetch
import Foundation
import Spool

/// The notification of PROTOCOL.md: the request's identity and where the round landed.
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

/// What the evaluator answered to one POST.
struct NotificationAnswer: Sendable, Equatable {
    var status: Int
    /// `Location`, for a 3xx (never followed).
    var location: String? = nil
    /// Seconds the evaluator asked us to wait (`Retry-After`, seconds or an HTTP date).
    var retryAfter: TimeInterval? = nil
}

/// Why a POST got no answer.
struct NotificationFailure: Error, Sendable, CustomStringConvertible {
    var description: String
    /// The URL can never be delivered to as the service is configured (a refused address, not
    /// http(s)): resending cannot help, the task fails at once.
    var isRefusal = false
}

/// The `Notifier` seam: one delivery attempt. Retrying is the notify queue's business.
protocol Notifier: Sendable {
    /// POSTs `payload` to `url`; returns the answer, or throws when none came.
    func deliver(_ payload: NotificationPayload, to url: String, timeout: TimeInterval) async throws(NotificationFailure) -> NotificationAnswer
}

/// POST with `Content-Type: application/json`; only the status matters.
struct HTTPNotifier: Notifier {
    let client: WebClient

    func deliver(_ payload: NotificationPayload, to url: String, timeout: TimeInterval) async throws(NotificationFailure) -> NotificationAnswer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(payload)) ?? Data()
        do {
            return NotificationAnswer(status: try await client.send(
                "POST", url, headers: ["Content-Type": "application/json", "Accept": "application/json"], body: body,
                timeout: timeout, maximumBytes: 1 << 20
            ).status)
        } catch {
            throw NotificationFailure(description: error.description)
        }
    }
}

/// The resend schedule: 1, 2, 4, 8 … seconds, capped at 10 minutes (Postfix's minimal and
/// maximal backoff, at notification scale): the first minute's resends come from the Finisher
/// serving the queue, later ones from whichever Finisher or recover run serves it next.
struct NotificationSchedule: Sendable {
    var first: TimeInterval = 1
    var cap: TimeInterval = 600

    func delay(afterAttempt attempt: Int) -> TimeInterval {
        min(cap, first * pow(2, Double(max(0, attempt - 1))))
    }
}
