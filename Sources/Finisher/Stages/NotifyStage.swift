import Foundation
import Spool

/// `notify`: POSTs where the round landed to the sender's `evaluation_url` until it answers
/// 200. Resends after 1, 2, 4 … s, journaling every attempt; past the in-process limit the task
/// is deferred (freeing its slot), and past the horizon it fails.
struct NotifyStage: PipelineStage {
    let stage = Stage.notify
    let notifier: any Notifier
    var schedule = NotificationSchedule()
    /// How long after receipt (or an operator's retry) resending goes on.
    let horizon: TimeInterval

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        let request = task.request
        let outputs = task.journal.outputs
        guard let repoURL = outputs.repoURL, let sha = outputs.commitSHA, let pagesURL = outputs.pagesURL else {
            throw .permanent("nothing was published to report")
        }
        let payload = NotificationPayload(
            email: request.email, task: request.task, round: request.round, nonce: request.nonce,
            repoURL: repoURL, commitSHA: sha, pagesURL: pagesURL)
        let giveUpAt = (task.journal.retriedAt ?? task.journal.receivedAt).addingTimeInterval(horizon)
        var waited: TimeInterval = 0
        while true {
            var status: Int?
            var problem: String?
            do {
                status = try await notifier.deliver(payload, to: request.evaluationURL, timeout: 30)
            } catch {
                problem = error.description
            }
            task.journal.notifications.append(.init(at: .now, status: status, error: problem ?? (status == 200 ? nil : "HTTP \(status!)")))
            task.journal.updatedAt = .now
            do {
                try task.save(task.journal)
            } catch {
                throw .transient("recording the notification attempt: \(error)")
            }
            if status == 200 { return }
            let reason = problem ?? "the evaluator answered HTTP \(status!)"
            let delay = schedule.delay(afterAttempt: task.journal.notifications.count)
            if Date().addingTimeInterval(delay) > giveUpAt {
                throw .permanent("no 200 from the evaluator within the notify horizon after \(task.journal.notifications.count) attempts; last: \(reason)")
            }
            if waited + delay > schedule.inProcessLimit {
                throw .transient(reason, retryAfter: delay)
            }
            try? await Task.sleep(for: .seconds(delay))
            waited += delay
        }
    }
}
