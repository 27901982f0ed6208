public import FoundationEssentials

/// One task as operators and senders see it: `llm-deploy-finisher status` and the Handler's
/// `GET /status/ID` both build it here, so they always agree. It never carries the secret or
/// attachment bodies.
public struct TaskStatus: Codable, Sendable, Equatable {
    public var id: String
    public var task: String?
    public var round: Int?
    public var state: SpoolState
    /// The stage running or next to run; `-` once done.
    public var stage: String?
    public var receivedAt: Date?
    public var updatedAt: Date?
    public var nextAttemptAt: Date?
    public var repoURL: String?
    public var commitSHA: String?
    public var pagesURL: String?
    public var lastError: String?
    /// Whether the Pages check saw the published commit before the notification.
    public var pagesVerified: Bool?
    /// `checks 5/6` for the tree that was (or will be) published.
    public var checks: String?
    /// That tree's results, this round's checks then earlier rounds' (with their `round`).
    public var checkResults: [CheckResult]?
    /// How many trees the check stage looked at (the first and each repair).
    public var checkAttempts: Int?

    enum CodingKeys: String, CodingKey {
        case id, task, round, state, stage
        case receivedAt = "received_at", updatedAt = "updated_at", nextAttemptAt = "next_attempt_at"
        case repoURL = "repo_url", commitSHA = "commit_sha", pagesURL = "pages_url", lastError = "last_error"
        case pagesVerified = "pages_verified", checks, checkResults = "check_results", checkAttempts = "check_attempts"
    }

    /// The status of queue entry `name` in `state`, from its task file and journal.
    public init(name: String, state: SpoolState, spool: SpoolDirectory) {
        let request = try? TaskRequest.decodeSpoolFile(spool.contents(of: name, in: state))
        let journal = TaskID(name).flatMap { try? spool.readJournal($0) }
        id = name
        task = request?.task
        round = request?.round
        self.state = state
        stage = state == .done ? "-" : journal?.currentStage?.rawValue ?? (state == .incoming ? "queued" : nil)
        receivedAt = journal?.receivedAt ?? request?.receivedAt
        updatedAt = journal?.updatedAt
        nextAttemptAt = journal?.nextAttemptAt
        repoURL = journal?.outputs.repoURL
        commitSHA = journal?.outputs.commitSHA
        pagesURL = journal?.outputs.pagesURL
        lastError = journal?.lastError ?? spool.rejectionReason(name)
        pagesVerified = journal?.outputs.pagesVerified
        if let record = journal?.checks {
            checks = record.summary
            checkResults = record.keptAttempt.map { $0.results + $0.regression }
            checkAttempts = record.attempts.count
        }
    }

    /// The status of task `id`, or `nil` when the spool does not hold it.
    public init?(id: TaskID, spool: SpoolDirectory) {
        guard let state = spool.state(of: id) else { return nil }
        self.init(name: id.rawValue, state: state, spool: spool)
    }

    /// Every entry of every queue, queue by queue, oldest first.
    public static func all(in spool: SpoolDirectory) -> [TaskStatus] {
        SpoolState.allCases.flatMap { state in spool.entries(in: state).map { TaskStatus(name: $0, state: state, spool: spool) } }
    }

    /// The sender of the task, for authorising a status request.
    public static func sender(of id: TaskID, spool: SpoolDirectory) -> String? {
        guard let state = spool.state(of: id) else { return nil }
        return (try? spool.contents(of: id.rawValue, in: state)).flatMap(TaskRequest.header(of:))?.email
    }

    /// JSON as both surfaces print it.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()
}
