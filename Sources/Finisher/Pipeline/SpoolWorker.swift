import Foundation
import Logging
import Spool

/// One Finisher process's loop over the spool: hold a slot, claim due tasks one at a time, run
/// each through the engine, move it to its next queue, and exit when nothing is due. Beside
/// that, when it can take the notify lock, it serves the notify queue, and while it does it
/// keeps watching for new tasks (under systemd it is then the only Finisher running).
struct SpoolWorker: Sendable {
    let spool: SpoolDirectory
    let slots: FinisherSlots
    let engine: PipelineEngine
    let notifications: NotifyQueue
    let logger: Logger

    private enum Activity: Sendable {
        case generated(waiting: Set<String>)
        case notified
        case tick
    }

    /// Processes everything due (with `generating: false`, only the notify queue), then exits.
    /// Generation and notification run side by side: the slot is held only while generating,
    /// the notify lock only while serving; the process ends when it holds neither and has
    /// nothing to start.
    func drain(generating: Bool = true) async throws {
        try await withThrowingTaskGroup(of: Activity.self) { group in
            var lookForWork = generating
            var generatingNow = false
            var notifying = false
            var tickPending = false
            var waiting: Set<String> = []
            while true {
                if lookForWork && !generatingNow {
                    lookForWork = false
                    if let lease = try slots.acquire() {
                        generatingNow = true
                        group.addTask { .generated(waiting: try await generate(holding: lease)) }
                    } else {
                        logger.debug("every Finisher slot is busy; leaving the work to them")
                    }
                }
                // Looked at after the generation finished, too: a task it filed into notify/ just
                // before finishing is served here, or by the Finisher that holds the lock.
                if !notifying, notifications.hasWork(within: notifications.linger), let lease = try slots.acquireNotifier() {
                    notifying = true
                    group.addTask {
                        await notifications.serve()
                        lease.release()
                        return .notified
                    }
                }
                if !generatingNow && !notifying {
                    group.cancelAll()
                    return
                }
                if !tickPending {
                    tickPending = true
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(500))
                        return .tick
                    }
                }
                switch try await group.next() {
                case .generated(let left):
                    generatingNow = false
                    waiting = left
                case .notified:
                    notifying = false
                case .tick:
                    tickPending = false
                    // New tasks while this process stays for the notify queue.
                    if generating && !generatingNow && hasNewWork(besides: waiting) { lookForWork = true }
                case nil:
                    return
                }
            }
        }
    }

    /// Claims and runs tasks while any is due, holding `lease`. After giving the slot back it
    /// looks once more, so a task the Handler spooled while every slot looked busy is never left
    /// waiting. Returns the names left waiting for an earlier round.
    private func generate(holding held: FinisherSlots.Lease) async throws -> Set<String> {
        var lease = held
        while true {
            var waiting: Set<String> = []
            while let (claim, request) = try claimNext(waiting: &waiting) {
                await process(claim, request)
            }
            lease.release()
            // Look again only for files that arrived since the last scan: tasks waiting for an
            // earlier round stay put until that round moves, and must not keep us spinning.
            guard hasNewWork(besides: waiting), let again = try slots.acquire() else { return waiting }
            lease = again
        }
    }

    /// Stale `active/` files whose Finisher died go back to `incoming/`, due deferred tasks too,
    /// and abandoned temporary files are removed (Maildir's 36-hour rule).
    func recover() throws {
        for name in spool.entries(in: .active) where !spool.isClaimed(name) {
            logger.notice("recovering a task whose Finisher died", metadata: ["id": "\(name)"])
            try Self.unlessVanished { try spool.move(name, from: .active, to: .incoming) }
        }
        try promoteDueDeferred()
        spool.removeAbandonedTemporaryFiles(olderThan: 36 * 3600)
    }

    func promoteDueDeferred() throws {
        for name in spool.entries(in: .deferred) {
            guard let id = TaskID(name) else { continue }
            let due = (try? spool.readJournal(id))??.nextAttemptAt ?? .distantPast
            guard due <= Date() else { continue }
            try Self.unlessVanished {
                // To the back of incoming/: a task retried after a failure does not jump ahead of
                // tasks that have been waiting for their first run.
                try spool.setDue(name, in: .deferred, at: .now)
                try spool.move(name, from: .deferred, to: .incoming)
            }
        }
    }

    private func hasNewWork(besides waiting: Set<String>) -> Bool {
        spool.entries(in: .incoming).contains { !waiting.contains($0) }
    }

    /// The oldest incoming task that no earlier round of the same task is waiting for; the
    /// names of those left waiting are added to `waiting`.
    func claimNext(waiting: inout Set<String>) throws -> (SpoolDirectory.Claim, TaskRequest)? {
        try promoteDueDeferred()
        try adoptDropIns()
        var pending: [TaskKey: Int] = [:]
        for state in [SpoolState.incoming, .active, .deferred] {
            for name in spool.entries(in: state) {
                guard let header = (try? spool.contents(of: name, in: state)).flatMap(TaskRequest.header(of:)) else { continue }
                let key = TaskKey(email: header.email, task: header.task)
                pending[key] = min(pending[key] ?? .max, header.round)
            }
        }
        for name in spool.entries(in: .incoming) {
            // Not a task ID: a drop-in still being written (`.tmp`, dotfile) or one that could
            // not be read. Wait for it to change rather than rescan it in a loop.
            guard TaskID(name) != nil, let data = try? spool.contents(of: name, in: .incoming) else {
                waiting.insert(name)
                continue
            }
            let request: TaskRequest
            do {
                request = try TaskRequest.decodeSpoolFile(data)
            } catch {
                // Hand-edited, or written under older rules: it can never run as it is.
                reject(name, reason: "not a valid task: \(error)")
                continue
            }
            if let earliest = pending[TaskKey(email: request.email, task: request.task)], earliest < request.round {
                waiting.insert(name)  // round N waits for round N-1 of the same task
                continue
            }
            // Written by hand under its ID rather than by the Handler: no secret goes further.
            try spool.dropSecret(ofIncoming: name, bytes: data)
            if let claim = try spool.claim(name) { return (claim, request) }
        }
        return nil
    }

    /// Moves an unusable incoming file to `failed/` with its reason (shown by `status`).
    private func reject(_ name: String, reason: String) {
        logger.error("rejected a task file", metadata: ["file": "\(name)", "error": "\(reason)"])
        do {
            try spool.writeRejection(name, reason: reason)
            try Self.unlessVanished { try spool.move(name, from: .incoming, to: .failed) }
        } catch {
            logger.error("could not move a rejected task file to failed/", metadata: ["file": "\(name)", "error": "\(error)"])
        }
    }

    private struct TaskKey: Hashable {
        var email: String
        var task: String
    }

    /// Manual drop-ins may have any name: a valid one is filed under its task ID (or dropped as a
    /// duplicate), an invalid one goes to `failed/` with the reason. Neither stops the Finisher.
    private func adoptDropIns() throws {
        for name in spool.dropIns() {
            // Another Finisher may adopt the same file at the same moment: a file that vanishes
            // under us was taken, not lost. One unreadable file must not stop the others.
            do {
                try Self.unlessVanished {
                    switch try spool.adoptDropIn(name) {
                    case .refused(let reason):
                        reject(name, reason: reason)
                    case .duplicate(let id, let existing):
                        logger.notice("dropped-in task duplicates one in the spool; removed", metadata: ["file": "\(name)", "id": "\(id)", "queue": "\(existing.rawValue)"])
                    case .adopted(let id):
                        logger.info("adopted a dropped-in task", metadata: ["file": "\(name)", "id": "\(id)"])
                    }
                }
            } catch {
                logger.warning("cannot read a dropped-in file; leaving it", metadata: ["file": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Runs `body`, treating a spool file that disappeared (ENOENT) as taken by another Finisher.
    private static func unlessVanished(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SpoolError where error.errno == ENOENT {
            return
        }
    }

    /// Runs one claimed task and files it where the outcome says.
    func process(_ claim: SpoolDirectory.Claim, _ request: TaskRequest) async {
        let id = request.id
        do {
            let received = request.receivedAt ?? spool.modificationDate(of: claim.name, in: .active) ?? .now
            var journal: TaskJournal
            do {
                journal = try spool.readJournal(id) ?? TaskJournal(id: id, request: request, receivedAt: received)
            } catch {
                // Every stage is idempotent, so starting over is safe; the damaged record is kept.
                let aside = spool.setAsideJournal(id)
                logger.error("unreadable journal set aside; the task starts over", metadata: ["id": "\(id)", "kept": "\(aside)", "error": "\(error)"])
                journal = TaskJournal(id: id, request: request, receivedAt: received)
            }
            journal.state = .active
            journal.nextAttemptAt = nil
            journal.updatedAt = .now
            try spool.writeJournal(journal)
            let outcome = await engine.run(request, journal: &journal)
            switch outcome {
            case .published where journal.completed.contains(.notify):
                journal.state = .done  // notified before (a journal from before the notify queue)
            case .published:
                // Journaled before the move: a crash in between leaves the file in active/, and
                // the rerun finds every stage done and files it here again.
                journal.state = .notify
                journal.nextAttemptAt = .now
            case .deferred(let until, let reason):
                journal.state = .deferred
                journal.deferrals += 1
                journal.nextAttemptAt = until
                logger.warning("task deferred", metadata: ["id": "\(id)", "until": "\(until)", "reason": "\(reason)"])
            case .failed(let reason):
                journal.state = .failed
                journal.failure = reason
                logger.error("task failed", metadata: ["id": "\(id)", "reason": "\(reason)"])
            }
            journal.updatedAt = .now
            try spool.writeJournal(journal)
            try spool.move(claim.name, from: .active, to: journal.state)
            if journal.state == .notify {
                try spool.setDue(claim.name, in: .notify, at: journal.nextAttemptAt ?? .now)
                logger.info("task published; notification queued", metadata: ["id": "\(id)", "repo_url": "\(journal.outputs.repoURL ?? "")"])
            }
            if journal.state == .failed {
                // Given up: `retry` redoes whatever stage needs the work directory.
                try? FileManager.default.removeItem(at: WorkTree(dataRoot: engine.dataRoot, id: id).root)
            }
            if journal.state == .done {
                // Published and notified: the work tree has served its purpose.
                try? FileManager.default.removeItem(at: WorkTree(dataRoot: engine.dataRoot, id: id).root)
                logger.info("task done", metadata: [
                    "id": "\(id)", "repo_url": "\(journal.outputs.repoURL ?? "")", "commit_sha": "\(journal.outputs.commitSHA ?? "")",
                    "pages_url": "\(journal.outputs.pagesURL ?? "")",
                    "seconds": .stringConvertible((Date().timeIntervalSince(journal.receivedAt) * 10).rounded() / 10),
                ])
            }
        } catch {
            // The journal or spool cannot be written: leave the file in active/; `recover` retries.
            logger.critical("cannot record the task's progress", metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }
}
