import Fetch
import Foundation
import Logging
import Spool
import Synchronization
import Testing
import TestSupport
@testable import Finisher

/// The engine alone, with in-process stand-ins for its seams: stage order, journaling, resume
/// after each stage, deferral and failure, the fault hook, and redoing stages whose work
/// directory is gone. The real-process tests (nginx, git, peers) cover the same paths end to end.
@Suite(.serialized) struct PipelineEngineTests {
    typealias E = EngineFixtures

    @Test func theStageListIsTheJournalsVocabularyInOrder() {
        let stages = E.standardStages(forge: FakeForge())
        // notify is the notify queue's, run apart from the slots.
        #expect(stages.map(\.stage) + [.notify] == Stage.allCases)
    }

    @Test func aTaskRunsEveryStageInOrderAndIsJournaledAfterEach() async throws {
        let fixture = try E()
        let forge = FakeForge()
        var engine = fixture.engine(E.standardStages(forge: forge))
        let seen = Mutex<[Stage]>([])
        let spool = fixture.spool
        let id = fixture.request.id
        engine.afterStage = { stage in
            // The hook runs after the journal is written: what it reads is already durable.
            let journaled = (try? spool.readJournal(id))??.completed.last
            seen.withLock { $0.append(journaled == stage ? stage : .prepare) }
        }
        var journal = fixture.journal()
        let outcome = await engine.run(fixture.request, journal: &journal)
        #expect(outcome == .published)
        #expect(journal.completed == E.generation)
        #expect(seen.withLock { $0 } == E.generation)
        #expect(journal.attempts.map(\.outcome) == Array(repeating: "completed", count: E.generation.count))
        #expect(journal.outputs.generator == "template")
        #expect(journal.outputs.commitSHA == forge.commit.commitSHA)
        // The tree that was published is the assembled one: the template's page, our LICENSE.
        let published = try #require(forge.publications.first)
        #expect(published.files["index.html"] != nil && published.files["LICENSE"] != nil)
    }

    @Test(arguments: Stage.allCases.dropLast())
    func aRunResumesAfterTheLastJournaledStage(_ last: Stage) async throws {
        let fixture = try E()
        let calls = StageLog()
        let engine = fixture.engine(Stage.allCases.map { RecordingStage(stage: $0, log: calls) })
        var journal = fixture.journal()
        journal.completed = Stage.allCases.filter { $0 <= last }
        #expect(await engine.run(fixture.request, journal: &journal) == .published)
        #expect(calls.stages == Stage.allCases.filter { $0 > last })
        #expect(journal.completed == Stage.allCases)
    }

    @Test func aTransientFailureDefersWithThePeersDelayAndTheNextRunResumesThere() async throws {
        let fixture = try E()
        let calls = StageLog()
        let failing = RecordingStage(stage: .publish, log: calls, failures: [.transient("HTTP 503", retryAfter: 42)])
        let stages: [any PipelineStage] = E.generation.map { $0 == .publish ? failing : RecordingStage(stage: $0, log: calls) }
        let engine = fixture.engine(stages)
        var journal = fixture.journal()
        let before = Date()
        guard case .deferred(let until, let reason) = await engine.run(fixture.request, journal: &journal) else {
            Issue.record("expected a deferral")
            return
        }
        #expect(until.timeIntervalSince(before) >= 42 && until.timeIntervalSince(before) < 43)
        #expect(reason == "publish: HTTP 503")
        #expect(journal.completed == [.prepare, .generate, .scan, .check])
        #expect(journal.attempts.last?.outcome == "transient" && journal.attempts.last?.error == "HTTP 503")
        // The journal on disk says the same: a new process resumes at publish.
        #expect(try fixture.spool.readJournal(journal.id)?.completed == [.prepare, .generate, .scan, .check])

        #expect(await engine.run(fixture.request, journal: &journal) == .published)
        #expect(calls.stages == [.prepare, .generate, .scan, .check, .publish, .publish, .pages, .repair])
    }

    @Test func withoutADelayFromThePeerTheBackOffGrowsWithTheDeferrals() async throws {
        let fixture = try E()
        let calls = StageLog()
        let engine = fixture.engine([RecordingStage(stage: .prepare, log: calls, failures: Array(repeating: .transient("down"), count: 3))])
        var journal = fixture.journal()
        journal.deferrals = 3
        guard case .deferred(let until, _) = await engine.run(fixture.request, journal: &journal) else {
            Issue.record("expected a deferral")
            return
        }
        // 30 s × 2³ with ±20 % jitter.
        #expect((192...288).contains(until.timeIntervalSinceNow.rounded()))
    }

    @Test func aPermanentFailureOrTooManyDeferralsFailsTheTaskNamingTheStage() async throws {
        let fixture = try E()
        let permanent = fixture.engine([RecordingStage(stage: .prepare, log: StageLog(), failures: [.permanent("bad attachment")])])
        var journal = fixture.journal()
        #expect(await permanent.run(fixture.request, journal: &journal) == .failed(reason: "prepare: bad attachment"))
        #expect(journal.attempts.last?.outcome == "permanent")

        let transient = fixture.engine([RecordingStage(stage: .prepare, log: StageLog(), failures: [.transient("still down")])])
        var tired = fixture.journal()
        tired.deferrals = PipelineEngine.maximumDeferrals
        #expect(await transient.run(fixture.request, journal: &tired)
            == .failed(reason: "prepare: still failing after \(PipelineEngine.maximumDeferrals) deferrals; last: still down"))
    }

    @Test func stagesWhoseWorkIsGoneRunAgainBeforePublishingButNotAfter() async throws {
        let fixture = try E()
        let forge = FakeForge()
        let engine = fixture.engine(E.standardStages(forge: forge))
        var journal = fixture.journal()
        #expect(await engine.run(fixture.request, journal: &journal) == .published)

        // Journaled up to scan, but the data directory was wiped: everything is redone.
        let work = WorkTree(dataRoot: fixture.data, id: journal.id)
        var wiped = fixture.journal()
        wiped.completed = [.prepare, .generate, .scan]
        try FileManager.default.removeItem(at: work.root)
        #expect(await engine.run(fixture.request, journal: &wiped) == .published)
        #expect(wiped.attempts.map(\.stage) == E.generation)

        // Once published, a missing work directory no longer matters. (A journal written before
        // the check stage existed lacks it: it completes at once, checking nothing.)
        var published = fixture.journal()
        published.completed = [.prepare, .generate, .scan, .publish]
        published.outputs = wiped.outputs
        try FileManager.default.removeItem(at: work.root)
        #expect(await engine.run(fixture.request, journal: &published) == .published)
        #expect(published.attempts.map(\.stage) == [.check, .pages, .repair])
        #expect(published.checks == nil)
        #expect(forge.publications.count == 2)
    }

    @Test func anAttachedLicenseIsReplacedByOursAndTheJournalSaysSo() async throws {
        let fixture = try E()
        let forge = FakeForge()
        var request = fixture.request
        request.attachments = [
            Attachment(name: "LICENSE", url: "data:text/plain;base64," + Data("All rights reserved.\n".utf8).base64EncodedString()),
            Attachment(name: "uid.txt", url: "data:text/plain;base64," + Data("uid-1\n".utf8).base64EncodedString()),
        ]
        var journal = TaskJournal(id: request.id, request: request, receivedAt: .now)
        #expect(await fixture.engine(E.standardStages(forge: forge)).run(request, journal: &journal) == .published)
        let published = try #require(forge.publications.last)
        #expect(String(decoding: published.files["LICENSE"] ?? Data(), as: UTF8.self).hasPrefix("MIT License"))
        #expect(published.files["uid.txt"] == Data("uid-1\n".utf8))
        #expect(journal.outputs.replacedReservedFiles == ["LICENSE"])
    }

    @Test func aFailingGeneratorFallsBackToTheTemplateAndTheSecretGateAsksAModelOnce() async throws {
        let fixture = try E()
        let forge = FakeForge()
        let broken = ScriptedGenerator(name: "model", answers: [.failure(.transient("HTTP 500"))])
        var journal = fixture.journal()
        #expect(await fixture.engine(E.standardStages(generator: broken, forge: forge))
            .run(fixture.request, journal: &journal) == .published)
        #expect(journal.outputs.generator == "template")

        // A model whose first tree has a credential is asked again, told why; the second is published.
        let leaky = ScriptedGenerator(name: "model", answers: [
            .success(["index.html": Data("<p>ghp_\(String(repeating: "A", count: 36))</p>".utf8)]),
            .success(["index.html": Data("<p>clean</p>".utf8)]),
        ])
        var second = fixture.journal()
        #expect(await fixture.engine(E.standardStages(generator: leaky, forge: forge))
            .run(fixture.request, journal: &second) == .published)
        #expect(leaky.feedback.count == 2 && leaky.feedback[0] == nil && (leaky.feedback[1] ?? "").contains("credential-like"))
        #expect(forge.publications.last?.files["index.html"] == Data("<p>clean</p>".utf8))
    }

    @Test func aNotifyAttemptIsJournaledAndTheVerdictSaysWhatNext() async throws {
        let fixture = try E()
        var journal = fixture.journal()
        journal.outputs.repoURL = "http://forge/r"
        journal.outputs.commitSHA = "abc"
        journal.outputs.pagesURL = "http://forge/pages/r/"
        let notifier = FakeNotifier(answers: [
            .init(status: 503, retryAfter: 120), .init(status: 302, location: "http://elsewhere.test/x"), .init(status: 500), .init(status: 200),
        ])
        let stage = NotifyStage(notifier: notifier, horizon: 3600)
        let before = Date()
        // The evaluator's Retry-After is honoured (it is longer than the schedule's 1 s).
        guard case .resend(let at, let reason) = await stage.attempt(fixture.request, journal: &journal) else {
            Issue.record("expected a resend")
            return
        }
        #expect(at.timeIntervalSince(before) >= 120 && at.timeIntervalSince(before) < 122 && reason.contains("503"))
        // A redirect is a failed attempt that names where it pointed; the schedule goes on (2 s).
        guard case .resend(let next, let redirect) = await stage.attempt(fixture.request, journal: &journal) else {
            Issue.record("expected a resend")
            return
        }
        #expect(next.timeIntervalSinceNow < 3 && redirect.contains("302") && redirect.contains("http://elsewhere.test/x"))
        _ = await stage.attempt(fixture.request, journal: &journal)
        #expect(await stage.attempt(fixture.request, journal: &journal) == .delivered)
        #expect(journal.notifications.map(\.status) == [503, 302, 500, 200])
        #expect(journal.completed.last == .notify)
        #expect(journal.attempts.map(\.outcome) == ["transient", "transient", "transient", "completed"])
        #expect(notifier.delivered.count == 4 && notifier.delivered[0].commitSHA == "abc")

        // Past the horizon the task fails; a refused address fails at once.
        var late = journal
        late.completed.removeLast()
        late.receivedAt = Date().addingTimeInterval(-3599)
        #expect(await NotifyStage(notifier: FakeNotifier(answers: [.init(status: 500)]), horizon: 3600).attempt(fixture.request, journal: &late)
            == .failed("no 200 from the evaluator within the notify horizon after 5 attempts; last: the evaluator answered HTTP 500"))
        var refused = fixture.journal()
        refused.outputs = journal.outputs
        let refusing = FakeNotifier(answers: [], failure: NotificationFailure(description: "refused: a loopback address", isRefusal: true))
        #expect(await NotifyStage(notifier: refusing, horizon: 3600).attempt(fixture.request, journal: &refused) == .failed("refused: a loopback address"))
        #expect(refused.attempts.last?.outcome == "permanent")
    }
}

/// A spool, a data directory and one task for an engine test.
struct EngineFixtures {
    let spool: SpoolDirectory
    let data: String
    let request: TaskRequest

    init() throws {
        let home = Paths.temporaryDirectory("engine")
        spool = try SpoolDirectory(root: "\(home)/spool")
        data = "\(home)/data"
        request = TaskRequest(
            email: "student@example.com", task: "engine-test", round: 1, nonce: UUID().uuidString,
            brief: "Build a page.", checks: [], evaluationURL: "http://127.0.0.1:9/notify",
            attachments: [Attachment(name: "data.csv", url: "data:text/csv;base64,YSxiCjEsMgo=")], receivedAt: .now)
    }

    func journal() -> TaskJournal {
        TaskJournal(id: request.id, request: request, receivedAt: request.receivedAt ?? .now)
    }

    func engine(_ stages: [any PipelineStage]) -> PipelineEngine {
        PipelineEngine(spool: spool, dataRoot: data, deadline: 600, stages: stages, logger: Logger(label: "engine-test"))
    }

    /// The production stage list around in-process seams. The Pages wait ends at once: the
    /// fake forge reports its deployment failed (the page itself is never fetched here).
    static func standardStages(generator: any Generator = TemplateGenerator(), forge: FakeForge) -> [any PipelineStage] {
        PipelineEngine.stages(
            generator: generator, fallback: TemplateGenerator(), forge: forge,
            scanner: SecretScanner(configuredSecrets: []), pages: PagesVerifier(client: WebClient()),
            attachments: AttachmentLoader(fetcher: URLFetcher(policy: FetchGuard(allowlist: .none))),
            documents: RepositoryDocuments(licenseHolder: "test", year: 2026))
    }

    /// The stages the engine runs: all but notify.
    static let generation = Stage.allCases.filter { $0 != .notify }
}

/// Records which stages ran, in order, across engine runs.
final class StageLog: Sendable {
    private let entries = Mutex<[Stage]>([])
    var stages: [Stage] { entries.withLock { $0 } }
    func append(_ stage: Stage) { entries.withLock { $0.append(stage) } }
}

/// A stage that records its runs and throws the scripted failures first, then succeeds.
final class RecordingStage: PipelineStage {
    let stage: Stage
    let log: StageLog
    private let failures: Mutex<[PipelineError]>

    init(stage: Stage, log: StageLog, failures: [PipelineError] = []) {
        self.stage = stage
        self.log = log
        self.failures = Mutex(failures)
    }

    func run(_ task: inout TaskRun) async throws(PipelineError) {
        log.append(stage)
        if let failure = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw failure }
    }
}

/// A forge in memory: every publication kept, one fixed commit returned.
final class FakeForge: Forge {
    let commit = PublishedCommit(repoURL: "http://forge.test/engine-test", commitSHA: String(repeating: "c", count: 40), pagesURL: "http://forge.test/pages/engine-test/")
    private let published = Mutex<[Publication]>([])
    var publications: [Publication] { published.withLock { $0 } }

    func existingFiles(repository: String) async throws(PipelineError) -> [String: Data] {
        publications.last?.files ?? [:]
    }

    func publish(_ publication: Publication) async throws(PipelineError) -> PublishedCommit {
        published.withLock { $0.append(publication) }
        return commit
    }

    func deploymentState(repository: String, commitSHA: String) async -> DeploymentState? {
        .failed("no Pages in an engine test")
    }
}

/// An evaluator in memory answering the scripted answers in turn (the last one repeats), or
/// failing every delivery with `failure`.
final class FakeNotifier: Notifier {
    private let state: Mutex<(answers: [NotificationAnswer], delivered: [NotificationPayload])>
    private let failure: NotificationFailure?

    init(answers: [NotificationAnswer], failure: NotificationFailure? = nil) {
        state = Mutex((answers, []))
        self.failure = failure
    }

    var delivered: [NotificationPayload] { state.withLock { $0.delivered } }

    func deliver(_ payload: NotificationPayload, to url: String, timeout: TimeInterval) async throws(NotificationFailure) -> NotificationAnswer {
        if let failure { throw failure }
        return state.withLock {
            $0.delivered.append(payload)
            return $0.answers.count > 1 ? $0.answers.removeFirst() : $0.answers[0]
        }
    }
}

/// A generator answering the scripted trees or errors in turn, keeping the feedback it was given.
final class ScriptedGenerator: Generator {
    let name: String
    private let state: Mutex<(answers: [Result<[String: Data], PipelineError>], feedback: [String?])>

    init(name: String, answers: [Result<[String: Data], PipelineError>]) {
        self.name = name
        state = Mutex((answers, []))
    }

    var feedback: [String?] { state.withLock { $0.feedback } }

    func generate(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> GenerationReport {
        let answer = state.withLock {
            $0.feedback.append(brief.feedback)
            return $0.answers.removeFirst()
        }
        return GenerationReport(tree: try answer.get(), mode: .singleAnswer)
    }
}
