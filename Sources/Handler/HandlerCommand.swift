#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CFastCGI
import FoundationEssentials
import Logging
import ServiceLog
import Spool

/// `llm-deploy-handler`: the resident FastCGI responder behind nginx's `POST /request`.
@main
struct HandlerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm-deploy-handler",
        abstract: "Accepts task requests over FastCGI and spools them durably.",
        discussion: """
            Configuration comes from the environment: LLM_DEPLOY_SECRET or LLM_DEPLOY_SECRET_FILE \
            (required unless LLM_DEPLOY_SECRETS_FILE is set), LLM_DEPLOY_SECRETS_FILE, LLM_DEPLOY_SPOOL \
            (or LLM_DEPLOY_HOME), LLM_DEPLOY_WAKE, LLM_DEPLOY_MAX_BODY, LLM_DEPLOY_SLOTS, \
            LLM_DEPLOY_NOTIFY_ALLOW.
            """)

    @Option(name: .long, help: "Unix socket path or HOST:PORT to listen on (default: the inherited socket on fd 0 or systemd's fd 3).")
    var socket: String?

    @Option(name: .long, help: "Permissions of a unix socket, in octal.")
    var socketMode: String = "660"

    /// Each thread holds one request until its flush, so the thread count caps how many requests
    /// one flush can cover; and a connection nginx keeps open between requests holds a thread
    /// while it is idle (deploy/nginx.conf: `keepalive 8` per worker, a worker per core).
    /// bench/accept on two cores: 64 ahead of 32 (by 5–7 %), 96 and 128 no better than 64.
    @Option(name: .long, help: "Accept threads (default: 32 per core, at least 64, at most 256).")
    var threads: Int = HandlerCommand.defaultThreads

    static var defaultThreads: Int {
        min(256, max(64, 32 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    @Option(name: .long, help: "Listen backlog.")
    var backlog: Int32 = 1024

    func run() throws {
        let environment = ServiceEnvironment(ProcessEnvironment.current)
        JSONLogHandler.bootstrap(level: environment["LLM_DEPLOY_LOG_LEVEL"], batched: true)
        let logger = Logger(label: "handler")
        do {
            let configuration = try HandlerConfiguration(environment: environment)
            guard let mode = mode_t(socketMode, radix: 8), mode <= 0o777 else {
                throw ValidationError("--socket-mode must be octal permissions such as 660")
            }
            guard (1...256).contains(threads) else { throw ValidationError("--threads must be from 1 to 256") }
            let spool = try SpoolDirectory(root: configuration.spoolRoot, sync: configuration.spoolSync)
            let waker = configuration.wakeArguments.map {
                FinisherWaker(arguments: $0, slots: FinisherSlots(spoolRoot: configuration.spoolRoot, count: configuration.slots),
                              spool: spool, logger: logger)
            }
            let intake = Intake(spool: spool, secrets: configuration.secrets, maximumBody: configuration.maximumBody,
                                evaluationURLs: configuration.evaluationURLs, waker: waker)
            let listener = try ListeningSocket.open(address: socket, mode: mode, backlog: backlog)
            guard FCGX_Init() == 0 else { throw ValidationError("FCGX_Init failed") }
            // A supervisor may start us with signals blocked (they are inherited across exec);
            // SIGTERM and SIGINT must stop the Handler whatever the parent did.
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            sigprocmask(SIG_SETMASK, &unblocked, nil)
            signal(SIGTERM, SIG_DFL)
            signal(SIGINT, SIG_DFL)
            signal(SIGPIPE, SIG_IGN)
            // SIGCHLD goes to the waker's own thread (sigwait); every thread started from here on
            // inherits it blocked. The Finishers themselves start with an empty mask.
            if let waker {
                var children = sigset_t()
                sigemptyset(&children)
                sigaddset(&children, SIGCHLD)
                pthread_sigmask(SIG_BLOCK, &children, nil)
                DetachedThread.start { waker.watchChildren() }
            }
            logger.info("listening", metadata: [
                "socket": "\(socket ?? "inherited fd \(listener)")", "spool": "\(configuration.spoolRoot)",
                "threads": .stringConvertible(threads), "wake": "\(configuration.wakeArguments?.joined(separator: " ") ?? "none")",
            ])
            FastCGIServer(listener: listener, threads: threads, maximumBody: configuration.maximumBody, logger: logger) {
                intake.handle($0)
            }.run()
        } catch let error as ValidationError {
            throw error
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(78)  // EX_CONFIG
        }
    }
}
