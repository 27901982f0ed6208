import Foundation
import Logging
import Spool
import Testing
import TestSupport
@testable import Finisher

/// The worker's loop over a real spool directory, with stages that only record what ran: which
/// task it claims first, where each outcome files the task, and what `drain` leaves behind.
@Suite(.serialized) struct SpoolWorkerTests {
    let home = Paths.temporaryDirectory("worker")

    func request(task: String = "worker-test", round: Int, receivedAt: Date = .now) -> TaskRequest {
        TaskRequest(
            email: "student@example.com", task: task, round: round, nonce: "n-\(round)-\(UUID().uuidString)", brief: "Build a page.",
            checks: [], evaluationURL: "http://127.0.0.1:9/notify", attachments: [], receivedAt: receivedAt)
    }

    /// A worker whose engine runs `stages` and then a stand-in for `publish` that says where the
    /// round landed, and whose notify queue reaches an evaluator in memory that answers 200.
    func worker(_ stages: [any PipelineStage], slots: Int = 1) throws -> SpoolWorker {
        let spool = try SpoolDirectory(root: "\(home)/spool")
        let logger = Logger(label: "worker-test")
        let engine = PipelineEngine(spool: spool, dataRoot: "\(home)/data", deadline: 600, stages: stages + [LandingStage()], logger: logger)
        let notifications = NotifyQueue(
            spool: spool, stage: NotifyStage(notifier: FakeNotifier(answers: [NotificationAnswer(status: 200)]), horizon: 3600),
            dataRoot: "\(home)/data", logger: logger)
        return SpoolWorker(
            spool: spool, slots: FinisherSlots(spoolRoot: spool.root, count: slots), engine: engine, notifications: notifications, logger: logger)
    }

    @Test func drainRunsEveryDueTaskOnceAndRoundTwoOnlyAfterRoundOne() async throws {
        let log = StageLog()
        let worker = try worker([RecordingStage(stage: .prepare, log: log)])
        // Round 2 is delivered first; round 1 of the same task must still run before it.
        let second = request(round: 2)
        let first = request(round: 1)
        let other = request(task: "another-task", round: 1)
        for task in [second, first, other] { _ = try worker.spool.deliver(task) }

        var waiting: Set<String> = []
        let (claim, claimed) = try #require(try worker.claimNext(waiting: &waiting))
        #expect(claimed.id != second.id, "round 2 was claimed while round 1 waited")
        #expect(waiting.contains(second.id.rawValue))
        await worker.process(claim, claimed)

        try await worker.drain()
        for task in [first, second, other] { #expect(worker.spool.state(of: task.id) == .done) }
        #expect(log.stages.count == 3)
        let journals = try [first, second].map { try #require(try worker.spool.readJournal($0.id)) }
        #expect(journals[0].updatedAt <= journals[1].updatedAt)
    }

    @Test func outcomesFileTheTaskWhereTheySay() async throws {
        let deferring = try worker([RecordingStage(stage: .prepare, log: StageLog(), failures: [.transient("busy", retryAfter: 300)])])
        let deferred = request(round: 1)
        _ = try deferring.spool.deliver(deferred)
        try await deferring.drain()
        #expect(deferring.spool.state(of: deferred.id) == .deferred)
        let journal = try #require(try deferring.spool.readJournal(deferred.id))
        #expect(journal.state == .deferred && journal.deferrals == 1)
        #expect((journal.nextAttemptAt?.timeIntervalSinceNow ?? 0) > 290)
        // Not due yet: recover leaves it where it is.
        try deferring.recover()
        #expect(deferring.spool.state(of: deferred.id) == .deferred)

        let failing = try worker([RecordingStage(stage: .prepare, log: StageLog(), failures: [.permanent("bad input")])])
        let failed = request(task: "failing-task", round: 1)
        _ = try failing.spool.deliver(failed)
        try await failing.drain()
        #expect(failing.spool.state(of: failed.id) == .failed)
        #expect(try failing.spool.readJournal(failed.id)?.failure == "prepare: bad input")
    }

    @Test func aDrainWithEverySlotTakenLeavesTheWorkForTheirHolder() async throws {
        let log = StageLog()
        let worker = try worker([RecordingStage(stage: .prepare, log: log)], slots: 1)
        let task = request(round: 1)
        _ = try worker.spool.deliver(task)
        let held = try #require(try worker.slots.acquire())
        try await worker.drain()
        #expect(worker.spool.state(of: task.id) == .incoming && log.stages.isEmpty)
        held.release()
        try await worker.drain()
        #expect(worker.spool.state(of: task.id) == .done && log.stages == [.prepare])
    }
}

/// Says where the round landed, as `publish` does, without a forge.
struct LandingStage: PipelineStage {
    let stage = Stage.publish

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        task.journal.outputs.repoURL = "http://forge.test/\(task.request.task)"
        task.journal.outputs.commitSHA = String(repeating: "a", count: 40)
        task.journal.outputs.pagesURL = "http://forge.test/pages/\(task.request.task)/"
    }
}
