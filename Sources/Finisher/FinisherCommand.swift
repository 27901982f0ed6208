import ArgumentParser
import Fetch
import Foundation
import Logging
import ServiceLog
import SiteCheck
import Spool

/// `llm-deploy-finisher`: completes spooled tasks and lets operators inspect the spool.
@main
struct FinisherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm-deploy-finisher",
        abstract: "Builds, publishes and reports spooled tasks; inspects and repairs the spool.",
        subcommands: [Drain.self, Recover.self, Run.self, Status.self, Retry.self, Scan.self, Check.self, Doctor.self])
}

/// What every subcommand that touches the spool needs.
struct FinisherContext {
    let environment: ServiceEnvironment
    let configuration: FinisherConfiguration
    let spool: SpoolDirectory
    let generator: any Generator
    let logger: Logger

    init() throws {
        // git may exit before reading the commit message we write to its stdin.
        signal(SIGPIPE, SIG_IGN)
        environment = ServiceEnvironment()
        JSONLogHandler.bootstrap(level: environment["LLM_DEPLOY_LOG_LEVEL"])
        var logger = Logger(label: "finisher")
        logger[metadataKey: "pid"] = "\(getpid())"
        self.logger = logger
        do {
            configuration = try FinisherConfiguration(environment: environment)
            spool = try SpoolDirectory(root: configuration.spoolRoot)
            generator = GeneratorSelection.make(configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(78)
        }
    }

    func forge(client: WebClient) -> any Forge {
        switch configuration.forge {
        case .local:
            LocalForge(dataRoot: configuration.dataRoot, publicURL: configuration.publicURL,
                       authorName: configuration.authorName, authorEmail: configuration.authorEmail)
        case .github(let apiURL, let token, let owner):
            GitHubForge(api: GitHubAPI(baseURL: apiURL, token: token, client: client), owner: owner,
                        authorName: configuration.authorName, authorEmail: configuration.authorEmail)
        }
    }

    func worker() -> SpoolWorker {
        let client = WebClient()
        let forge = forge(client: client)
        var engine = PipelineEngine(
            spool: spool, dataRoot: configuration.dataRoot, deadline: configuration.deadline,
            stages: PipelineEngine.stages(
                generator: generator, fallback: TemplateGenerator(), forge: forge,
                scanner: SecretScanner(configuredSecrets: configuration.secrets),
                pages: PagesVerifier(client: client),
                attachments: AttachmentLoader(fetcher: URLFetcher(policy: FetchGuard(allowlist: configuration.fetchAllowlist))),
                documents: RepositoryDocuments(licenseHolder: configuration.authorName, year: Calendar(identifier: .gregorian).component(.year, from: .now)),
                checks: configuration.checkSettings, checkAttempts: configuration.checkAttempts, spool: spool),
            logger: logger, multipleSenders: configuration.multipleSenders)
        var notifications = NotifyQueue(
            spool: spool,
            stage: NotifyStage(notifier: HTTPNotifier(post: GuardedPost(policy: FetchGuard(allowlist: configuration.notifyAllowlist))), horizon: configuration.notifyHorizon, timeout: configuration.notifyTimeout),
            dataRoot: configuration.dataRoot, logger: logger)
        // Crash injection for the integration tests: SIGKILL right after journaling this stage.
        if let stage = environment["LLM_DEPLOY_TEST_KILL_AFTER"].flatMap(Stage.init(rawValue:)) {
            engine.afterStage = { if $0 == stage { kill(getpid(), SIGKILL) } }
            if stage == .notify { notifications.afterDelivery = { kill(getpid(), SIGKILL) } }
        }
        return SpoolWorker(
            spool: spool, slots: FinisherSlots(spoolRoot: configuration.spoolRoot, count: configuration.slots), engine: engine,
            notifications: notifications, logger: logger)
    }
}

extension FinisherCommand {
    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Process every due task, then exit (what the Handler wakes).")

        func run() async throws {
            let context = try FinisherContext()
            try await context.worker().drain()
        }
    }

    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return tasks of dead Finishers and due deferred tasks to incoming/, then drain (the timer's job).")

        func run() async throws {
            let context = try FinisherContext()
            let worker = context.worker()
            // A Finisher killed during the check stage leaves Chromium running: kill it first.
            let killed = CheckSession.reapAbandoned(under: context.configuration.dataRoot + "/check")
            if killed > 0 { context.logger.notice("killed check-run processes left by a dead Finisher", metadata: ["processes": "\(killed)"]) }
            try worker.recover()
            try await worker.drain()
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Process one task now: a task ID in incoming/, or a task file (copied into the spool first).")

        @Argument(help: "A task ID or the path of a task file.")
        var task: String

        func run() async throws {
            let context = try FinisherContext()
            let worker = context.worker()
            let id: TaskID
            if let given = TaskID(task) {
                id = given
            } else {
                guard let data = FileManager.default.contents(atPath: task) else { throw ValidationError("\(task) is neither a task ID nor a readable file") }
                var request: TaskRequest
                do {
                    request = try TaskRequest.decodeSpoolFile(data)
                } catch {
                    throw ValidationError("\(task) is not a valid task: \(error)")
                }
                if request.receivedAt == nil { request.receivedAt = .now }
                _ = try context.spool.deliver(request)
                id = request.id
            }
            guard context.spool.state(of: id) == .incoming else {
                throw ValidationError("\(id) is \(context.spool.state(of: id).map { "in \($0.rawValue)/" } ?? "not in the spool"); only incoming/ tasks can be run")
            }
            guard let claim = try context.spool.claim(id.rawValue) else { throw ValidationError("\(id) is being processed by another Finisher") }
            let request = try TaskRequest.decodeSpoolFile(context.spool.contents(of: id.rawValue, in: .active))
            await worker.process(claim, request)
            // Its notification (and any other due) in the foreground too.
            try await worker.drain(generating: false)
            print("\(id): \(context.spool.state(of: id)?.rawValue ?? "gone")")
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a failed task back to incoming/ (postsuper -r).")

        @Argument(help: "The task ID (or, for a rejected drop-in, its file name).")
        var task: String

        func run() throws {
            let context = try FinisherContext()
            guard context.spool.entries(in: .failed).contains(task) else {
                throw ValidationError("\(task) is not in failed/ (see `llm-deploy-finisher status`)")
            }
            if let id = TaskID(task), var journal = try context.spool.readJournal(id) {
                journal.failure = nil
                journal.deferrals = 0
                journal.retriedAt = .now
                journal.state = .incoming
                journal.updatedAt = .now
                try context.spool.writeJournal(journal)
            }
            context.spool.removeRejection(task)
            try context.spool.move(task, from: .failed, to: .incoming)
            print("\(task): moved to incoming/")
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scan files or directories for credentials; exit 1 when anything is found.")

        @Argument(help: "Files or directories to scan.")
        var paths: [String]

        func run() throws {
            let secrets = try FinisherConfiguration.secrets(in: ServiceEnvironment())
            var files: [String: Data] = [:]
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw ValidationError("\(path) does not exist") }
                if isDirectory.boolValue {
                    for (relative, bytes) in try WorkTree.files(under: URL(fileURLWithPath: path)) {
                        files[(path as NSString).appendingPathComponent(relative)] = bytes
                    }
                } else {
                    files[path] = FileManager.default.contents(atPath: path)
                }
            }
            let findings = SecretScanner(configuredSecrets: secrets).scan(files)
            for finding in findings { print(finding) }
            if !findings.isEmpty { throw ExitCode(1) }
        }
    }
}
