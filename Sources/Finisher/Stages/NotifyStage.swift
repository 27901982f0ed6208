import Foundation
import Spool

/// `notify`: one POST of where the round landed to the sender's `evaluation_url`, journaled.
/// The notify queue (`NotifyQueue`) runs it whenever the task is due and files the task by the
/// verdict, so resending never holds a Finisher slot. Only HTTP 200 counts; a 3xx is a failed
/// attempt (never followed). An evaluator's `Retry-After` on 429 or 503 is honoured up to the
/// schedule's cap; past the horizon the task fails.
struct NotifyStage: Sendable {
    let stage = Stage.notify
    let notifier: any Notifier
    var schedule = NotificationSchedule()
    /// How long after receipt (or an operator's retry) resending goes on.
    let horizon: TimeInterval
    /// One attempt's limit (`LLM_DEPLOY_NOTIFY_TIMEOUT`).
    var timeout: TimeInterval = 30

    /// What happens to the task after one attempt.
    enum Verdict: Sendable, Equatable {
        case delivered
        case resend(at: Date, reason: String)
        case failed(String)
    }

    /// Makes one attempt and records it in `journal` (the caller saves it).
    func attempt(_ request: TaskRequest, journal: inout TaskJournal) async -> Verdict {
        let outputs = journal.outputs
        guard let repoURL = outputs.repoURL, let sha = outputs.commitSHA, let pagesURL = outputs.pagesURL else {
            return .failed("nothing was published to report")
        }
        let payload = NotificationPayload(
            email: request.email, task: request.task, round: request.round, nonce: request.nonce,
            repoURL: repoURL, commitSHA: sha, pagesURL: pagesURL)
        let started = Date()
        var answer: NotificationAnswer?
        var problem: String?
        var refused = false
        do {
            answer = try await notifier.deliver(payload, to: request.evaluationURL, timeout: timeout)
        } catch {
            problem = error.description
            refused = error.isRefusal
        }
        let status = answer?.status
        if let answer, answer.status != 200 {
            problem = Self.describe(answer)
        }
        journal.notifications.append(.init(at: started, status: status, error: problem))
        journal.attempts.append(.init(
            stage: .notify, startedAt: started, finishedAt: .now,
            outcome: status == 200 ? "completed" : refused ? "permanent" : "transient", error: problem))
        journal.updatedAt = .now
        if status == 200 {
            journal.completed.append(.notify)
            return .delivered
        }
        let reason = problem ?? "no answer"
        if refused { return .failed(reason) }
        var delay = schedule.delay(afterAttempt: journal.notifications.count)
        if let asked = answer?.retryAfter, status == 429 || status == 503 {
            delay = max(delay, min(asked, schedule.cap))
        }
        let giveUpAt = (journal.retriedAt ?? journal.receivedAt).addingTimeInterval(horizon)
        let next = Date().addingTimeInterval(delay)
        if next > giveUpAt {
            return .failed("no 200 from the evaluator within the notify horizon after \(journal.notifications.count) attempts; last: \(reason)")
        }
        return .resend(at: next, reason: reason)
    }

    /// A non-200 answer in words; a redirect names where it pointed.
    static func describe(_ answer: NotificationAnswer) -> String {
        if (300..<400).contains(answer.status) {
            let target = answer.location.map { "to \(String($0.prefix(200)).debugDescription)" } ?? "without a Location"
            return "the evaluator answered HTTP \(answer.status), a redirect \(target); notifications are never redirected, "
                + "so evaluation_url must accept the POST itself"
        }
        return "the evaluator answered HTTP \(answer.status)"
    }
}
