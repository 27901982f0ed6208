import Foundation
import Logging
import Spool

/// The notify queue: tasks that are published and whose notification is still to be delivered,
/// in `notify/`, each file's modification time being when its next attempt is due.
///
/// It is served apart from generation, as Postfix's queue manager serves deliveries apart from
/// pickup: one Finisher at a time holds the notify lock (`slots/notify`, not one of the N slots)
/// and makes the due attempts concurrently, so an evaluator that is down, slow or redirecting
/// never holds a slot or delays another task's generation. First attempts are never queued
/// behind resends: resends may fill only part of the lanes. Each attempt is journaled before the
/// task moves on (to `done/` or `failed/`, or rescheduled in place).
struct NotifyQueue: Sendable {
    let spool: SpoolDirectory
    let stage: NotifyStage
    /// `LLM_DEPLOY_DATA`: a task's work directory is removed once it leaves the queue.
    let dataRoot: String
    let logger: Logger
    /// Attempts in flight at most, and how many of those may be resends.
    var lanes = 16
    var resendLanes = 12
    /// The server keeps serving while an attempt falls due within this many seconds; later ones
    /// are left to the next Finisher, or to `recover` (once a minute under systemd).
    var linger: TimeInterval = 60
    /// Called after a delivery is journaled; tests use it to crash the process at that point.
    var afterDelivery: (@Sendable () -> Void)? = nil

    /// Whether an entry falls due within `seconds`.
    func hasWork(within seconds: TimeInterval) -> Bool {
        spool.schedule(of: .notify).first.map { $0.due <= Date().addingTimeInterval(seconds) } ?? false
    }

    /// Makes every due attempt, concurrently, until nothing is in flight and nothing falls due
    /// within `linger`. The caller holds the notify lock.
    func serve() async {
        var resends: [String: Bool] = [:]
        await withTaskGroup(of: String?.self) { group in
            var inFlight: [String: Bool] = [:]  // name → is a resend
            var tickPending = false
            while true {
                let now = Date()
                let schedule = spool.schedule(of: .notify)
                var due = schedule.filter { $0.due <= now && inFlight[$0.name] == nil }.map(\.name)
                for name in due where resends[name] == nil {
                    resends[name] = TaskID(name).flatMap { try? spool.readJournal($0) }.map { !$0.notifications.isEmpty } ?? false
                }
                // First attempts first, then resends, each in order of when they fell due.
                due = due.filter { resends[$0] == false } + due.filter { resends[$0] == true }
                for name in due where inFlight.count < lanes {
                    let resend = resends[name] == true
                    if resend && inFlight.values.filter({ $0 }).count >= resendLanes { continue }
                    inFlight[name] = resend
                    group.addTask { await attempt(name); return name }
                }
                let next = schedule.first { inFlight[$0.name] == nil }?.due
                if inFlight.isEmpty && (next.map { $0 > now.addingTimeInterval(linger) } ?? true) { break }
                if !tickPending {
                    tickPending = true
                    // Wake for the next due entry, and at least twice a second for new arrivals.
                    let wait = min(0.5, max(0.005, (next ?? now.addingTimeInterval(1)).timeIntervalSince(now)))
                    group.addTask {
                        try? await Task.sleep(for: .seconds(wait))
                        return nil
                    }
                }
                switch await group.next() {
                case .some(.some(let name)):
                    inFlight[name] = nil
                    resends[name] = true
                case .some(.none):
                    tickPending = false
                case .none:
                    break
                }
            }
            group.cancelAll()
        }
    }

    /// One attempt for `notify/NAME`, and the task filed by its verdict.
    func attempt(_ name: String) async {
        guard let id = TaskID(name) else {
            file(name, to: .failed, logMessage: "not a task ID in notify/")
            return
        }
        var log = logger
        log[metadataKey: "id"] = "\(id)"
        let request: TaskRequest
        var journal: TaskJournal
        do {
            request = try TaskRequest.decodeSpoolFile(spool.contents(of: name, in: .notify))
            guard let recorded = try spool.readJournal(id) else { throw SpoolError("read journal", path: spool.journalPath(name), errno: ENOENT) }
            journal = recorded
        } catch {
            // Edited or damaged by hand: it cannot be notified as it is; `status` says why.
            try? spool.writeRejection(name, reason: "cannot notify: \(error)")
            file(name, to: .failed, logMessage: "cannot notify a task whose file or journal is unreadable")
            return
        }
        do {
            // A Finisher killed after journaling the outcome and before moving the file.
            if journal.completed.contains(.notify) || journal.state == .done {
                return finish(name, journal, as: .done, log: log)
            }
            if journal.state == .failed { return finish(name, journal, as: .failed, log: log) }
            switch await stage.attempt(request, journal: &journal) {
            case .delivered:
                journal.state = .done
                journal.nextAttemptAt = nil
                try spool.writeJournal(journal)
                afterDelivery?()
                finish(name, journal, as: .done, log: log)
            case .resend(let at, let reason):
                journal.state = .notify
                journal.nextAttemptAt = at
                try spool.writeJournal(journal)
                try spool.setDue(name, in: .notify, at: at)
                log.warning("notification not delivered; resending later", metadata: [
                    "attempts": "\(journal.notifications.count)", "next_attempt_at": "\(at)", "reason": "\(reason)",
                ])
            case .failed(let reason):
                journal.state = .failed
                journal.failure = "notify: \(reason)"
                journal.nextAttemptAt = nil
                try spool.writeJournal(journal)
                log.error("task failed", metadata: ["reason": "\(journal.failure!)"])
                finish(name, journal, as: .failed, log: log)
            }
        } catch {
            // Journal or spool unwritable, or a damaged file: try again in a minute, not in a loop.
            log.critical("cannot record a notification attempt", metadata: ["error": "\(error)"])
            try? spool.setDue(name, in: .notify, at: Date().addingTimeInterval(60))
        }
    }

    /// Moves a task whose outcome is journaled out of the queue and removes its work directory.
    private func finish(_ name: String, _ journal: TaskJournal, as state: SpoolState, log: Logger) {
        file(name, to: state, logMessage: nil)
        try? FileManager.default.removeItem(at: WorkTree(dataRoot: dataRoot, id: journal.id).root)
        if state == .done {
            log.info("task done", metadata: [
                "repo_url": "\(journal.outputs.repoURL ?? "")", "commit_sha": "\(journal.outputs.commitSHA ?? "")",
                "pages_url": "\(journal.outputs.pagesURL ?? "")",
                "seconds": .stringConvertible((Date().timeIntervalSince(journal.receivedAt) * 10).rounded() / 10),
            ])
        }
    }

    private func file(_ name: String, to state: SpoolState, logMessage: String?) {
        if let logMessage { logger.error("\(logMessage)", metadata: ["file": "\(name)"]) }
        do {
            try spool.move(name, from: .notify, to: state)
        } catch {
            logger.critical("cannot move a task out of notify/", metadata: ["file": "\(name)", "error": "\(error)"])
        }
    }
}
