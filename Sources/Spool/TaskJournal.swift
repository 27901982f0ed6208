public import FoundationEssentials

/// The pipeline's stages, in order: the journal's vocabulary, shared with the Handler's status
/// (docs/architecture.md, Stages).
public enum Stage: String, CaseIterable, Sendable, Codable, Comparable {
    case prepare, generate, scan, check, publish, pages, repair, notify

    public static func < (lhs: Stage, rhs: Stage) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Everything the Finisher knows about one task: `journal/ID.json`, replaced atomically after
/// every stage so a Finisher killed anywhere resumes from the last completed stage.
public struct TaskJournal: Sendable, Codable, Equatable {
    public var id: TaskID
    public var task: String
    public var round: Int
    public var email: String
    /// The queue the task was last moved to.
    public var state: SpoolState
    /// Stages completed, in order; a stage listed here is not run again.
    public var completed: [Stage] = []
    /// What completed stages produced.
    public var outputs = Outputs()
    /// Every stage run, failed or not.
    public var attempts: [Attempt] = []
    /// Every notification sent and its answer.
    public var notifications: [NotificationAttempt] = []
    /// The generator's tool calls in the last generation (arguments redacted); absent in
    /// journals written before tools existed.
    public var toolCalls: [ToolCall]?
    /// The brief's checks run against the built tree before publishing; absent in journals
    /// written before the check stage existed.
    public var checks: CheckRecord?
    /// When a deferred task is due again.
    public var nextAttemptAt: Date?
    /// Transient failures so far (drives the back-off).
    public var deferrals: Int = 0
    /// Why the task failed for good.
    public var failure: String?
    public var receivedAt: Date
    /// When an operator last ran `retry`; the notify horizon counts from here after a retry.
    public var retriedAt: Date?
    public var updatedAt: Date

    public init(id: TaskID, request: TaskRequest, receivedAt: Date, now: Date = .now) {
        self.id = id
        task = request.task
        round = request.round
        email = request.email
        state = .active
        self.receivedAt = receivedAt
        updatedAt = now
    }

    /// The outputs the notification and the status surface report.
    public struct Outputs: Sendable, Codable, Equatable {
        /// The repository's name on the forge, decided once per task round (round 2 takes round
        /// 1's from its journal).
        public var repository: String?
        public var repoURL: String?
        public var commitSHA: String?
        public var pagesURL: String?
        /// Which generator produced the tree (`template` when no LLM was used).
        public var generator: String?
        /// How the LLM worked: `tools`, `tools-stopped` (at a budget) or `single-answer`.
        public var generationMode: String?
        /// Whether the Pages check saw the new commit's content before the notification.
        public var pagesVerified: Bool?
        /// Attachments the generator replaced with its own file (a brief asking to fix an
        /// attached script); the others were committed byte for byte.
        public var replacedAttachments: [String]?
        /// Files the service writes itself that an attachment of the same name tried to supply
        /// (an attached `LICENSE` other than our MIT text): ours was committed, and this says so.
        public var replacedReservedFiles: [String]?
        /// The forge's workflow runs that were looked at: a failed run of the published commit,
        /// and the run of the one repair commit made for it.
        public var workflowRuns: [WorkflowRun]?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case repository, repoURL = "repo_url", commitSHA = "commit_sha", pagesURL = "pages_url"
            case generator, pagesVerified = "pages_verified", generationMode = "generation_mode"
            case replacedAttachments = "replaced_attachments", workflowRuns = "workflow_runs"
            case replacedReservedFiles = "replaced_reserved_files"
        }
    }

    /// A workflow run of a published commit, as far as the Finisher followed it.
    public struct WorkflowRun: Sendable, Codable, Equatable {
        /// The commit the run built.
        public var commitSHA: String
        /// `failure`, `success`, or `pending` when it had not ended by the notification.
        public var conclusion: String
        /// The run's page, when the forge gave it.
        public var url: String?
        /// The job that failed.
        public var job: String?
        /// Whether this commit was the repair of an earlier failed run.
        public var repair: Bool

        public init(commitSHA: String, conclusion: String, url: String? = nil, job: String? = nil, repair: Bool) {
            self.commitSHA = commitSHA
            self.conclusion = conclusion
            self.url = url
            self.job = job
            self.repair = repair
        }

        enum CodingKeys: String, CodingKey {
            case conclusion, url, job, repair
            case commitSHA = "commit_sha"
        }
    }

    /// One run of one stage.
    public struct Attempt: Sendable, Codable, Equatable {
        public var stage: Stage
        public var startedAt: Date
        public var finishedAt: Date?
        /// `completed`, `transient`, `permanent`.
        public var outcome: String
        public var error: String?

        public init(stage: Stage, startedAt: Date, finishedAt: Date?, outcome: String, error: String? = nil) {
            self.stage = stage
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.outcome = outcome
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case stage, outcome, error, startedAt = "started_at", finishedAt = "finished_at"
        }
    }

    /// One tool call of the generator's loop: which tool, its arguments with secrets redacted
    /// and file contents replaced by their size, how it ended, how much it returned and how long
    /// it took. The generator records it in this form; the journal and the log keep it as is.
    public struct ToolCall: Sendable, Codable, Equatable {
        /// How a call ended.
        public enum Outcome: String, Sendable, Codable {
            /// Done; the result went back to the model.
            case ok
            /// Not done because a rule forbids it (a path outside the tree, a private address);
            /// the reason went back to the model.
            case refused
            /// Attempted and failed (a network error, a timeout); the error went back to the model.
            case failed
        }

        /// The tool's name as the model called it.
        public var name: String
        /// The arguments, redacted, at most about 500 characters.
        public var arguments: String
        public var outcome: Outcome
        /// The size of the result returned to the model, in UTF-8 bytes.
        public var resultBytes: Int
        public var seconds: Double
        /// The refusal or error returned, at most 300 characters (`nil` when `ok`).
        public var detail: String?

        public init(name: String, arguments: String, outcome: Outcome, resultBytes: Int, seconds: Double, detail: String?) {
            self.name = name
            self.arguments = arguments
            self.outcome = outcome
            self.resultBytes = resultBytes
            self.seconds = seconds
            self.detail = detail
        }

        enum CodingKeys: String, CodingKey {
            case name, arguments, outcome, seconds, detail
            case resultBytes = "result_bytes"
        }
    }

    /// One POST to `evaluation_url`.
    public struct NotificationAttempt: Sendable, Codable, Equatable {
        public var at: Date
        /// The HTTP status, or `nil` when no answer came.
        public var status: Int?
        public var error: String?

        public init(at: Date, status: Int?, error: String?) {
            self.at = at
            self.status = status
            self.error = error
        }
    }

    /// The last error recorded, for `status`.
    public var lastError: String? {
        failure ?? attempts.last(where: { $0.error != nil })?.error
            ?? notifications.last(where: { $0.status != 200 }).map { $0.error ?? "HTTP \($0.status ?? 0)" }
    }

    /// The stage running or next to run.
    public var currentStage: Stage? { Stage.allCases.first { !completed.contains($0) } }

    enum CodingKeys: String, CodingKey {
        case id, task, round, email, state, completed, outputs, attempts, notifications, deferrals, failure, checks
        case toolCalls = "tool_calls"
        case nextAttemptAt = "next_attempt_at", receivedAt = "received_at", updatedAt = "updated_at"
        case retriedAt = "retried_at"
    }
}
