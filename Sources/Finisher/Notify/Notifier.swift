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

/// POST with `Content-Type: application/json` through the address guard (`GuardedPost`): only
/// the status matters, so at most 16 KiB of the answer is kept, and a redirect is returned, not
/// followed. An address the guard refuses (private, loopback, metadata, unless
/// `LLM_DEPLOY_NOTIFY_ALLOW` names it) is a refusal: the task fails at once, saying so.
struct HTTPNotifier: Notifier {
    let post: GuardedPost

    func deliver(_ payload: NotificationPayload, to url: String, timeout: TimeInterval) async throws(NotificationFailure) -> NotificationAnswer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(payload)) ?? Data()
        let answer: GuardedPost.Answer
        do {
            answer = try await post.send(
                url, body: body, headers: ["Content-Type": "application/json", "Accept": "application/json"], timeout: timeout)
        } catch {
            throw NotificationFailure(description: Self.describe(error), isRefusal: error.isRefusal)
        }
        return NotificationAnswer(
            status: answer.status, location: answer.headers["location"],
            retryAfter: answer.headers["retry-after"].flatMap { Self.seconds(retryAfter: $0) })
    }

    /// A failure in the journal's words (the guard's own are addressed to the model).
    static func describe(_ error: FetchError) -> String {
        switch error {
        case .unsupportedURL(let reason):
            "evaluation_url cannot be notified: \(reason)"
        case .refusedAddress(let url, let reason):
            "evaluation_url \(url) is refused: \(reason). Name its host in LLM_DEPLOY_NOTIFY_ALLOW to allow it, then `retry` the task"
        case .unresolvable(let host, let reason):
            "no answer from \(host): the name does not resolve (\(reason))"
        case .timedOut(let url, let seconds):
            "no answer from \(url) within \(seconds) s"
        case .network(let url, let reason):
            "no answer from \(url): \(reason)"
        case .tooManyRedirects(let url, _):
            "\(url) redirected"  // never raised: redirects are returned as answers
        }
    }

    /// `Retry-After` (RFC 9110 §10.2.3) in seconds from now: delay-seconds or an HTTP date.
    static func seconds(retryAfter value: String, now: Date = .now) -> TimeInterval? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) { return seconds >= 0 ? TimeInterval(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text).map { max(0, $0.timeIntervalSince(now)) }
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
