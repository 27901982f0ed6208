#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Logging
import Spool
import Synchronization

/// Starts a Finisher after a task is spooled: `posix_spawn` of `LLM_DEPLOY_WAKE`, detached in
/// its own session, stdin from /dev/null, no descriptor but stdout/stderr inherited (never the
/// FastCGI socket), never waited for.
///
/// Spawning is skipped when it cannot help: every Finisher slot is held (each holder rescans
/// `incoming/` after it lets its slot go), or as many Finishers as there are slots are already
/// running or starting (they have not scanned yet, so they will see this file). A burst thus
/// starts up to N Finishers and no more. One Finisher may be counted while already on its way
/// out; `watchChildren` closes that gap when it exits. A failed spawn is logged and never fails
/// the request.
final class FinisherWaker: Sendable {
    let arguments: [String]
    let slots: FinisherSlots
    let spool: SpoolDirectory
    private let logger: Logger
    /// Finishers this Handler started that have not exited yet, with when they started.
    private let running = Mutex<[pid_t: Date]>([:])

    init(arguments: [String], slots: FinisherSlots, spool: SpoolDirectory, logger: Logger) {
        precondition(!arguments.isEmpty)
        self.arguments = arguments
        self.slots = slots
        self.spool = spool
        self.logger = logger
    }

    /// Parses `LLM_DEPLOY_WAKE`: `none` disables waking; otherwise words split on spaces. The
    /// default is `llm-deploy-finisher drain`, found beside the Handler's own executable first.
    static func arguments(from setting: String?, handlerExecutable: String?) -> [String]? {
        if let setting {
            if setting == "none" { return nil }
            let words = setting.split(separator: " ").map(String.init)
            return words.isEmpty ? nil : words
        }
        if let handlerExecutable, let slash = handlerExecutable.lastIndex(of: "/") {
            let sibling = handlerExecutable[..<slash] + "/llm-deploy-finisher"
            if access(String(sibling), X_OK) == 0 { return [String(sibling), "drain"] }
        }
        return ["llm-deploy-finisher", "drain"]
    }

    func wake() {
        let busy = running.withLock { $0.count >= slots.count }
        if busy || !slots.anyFree() { return }
        do {
            let pid = try spawn()
            running.withLock { $0[pid] = .now }
        } catch {
            logger.error("could not start a Finisher", metadata: ["command": "\(arguments[0])", "error": "\(error)"])
        }
    }

    /// Reaps Finishers as they exit and, when a task reached `incoming/` after an exited Finisher
    /// started, wakes another: that task may have arrived after the Finisher's last look, while
    /// it still counted as running. Waits for SIGCHLD (blocked by the caller), and looks at least
    /// once a second in case a thread that does not block it swallowed one. Runs forever.
    func watchChildren() -> Never {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGCHLD)
        var second = timespec(tv_sec: 1, tv_nsec: 0)
        while true {
            _ = sigtimedwait(&signals, nil, &second)
            let starts = running.withLock { children -> [Date] in
                var exited: [Date] = []
                var status: Int32 = 0
                while true {
                    let pid = waitpid(-1, &status, WNOHANG)
                    if pid <= 0 { break }
                    if let start = children.removeValue(forKey: pid) { exited.append(start) }
                }
                return exited
            }
            if let earliest = starts.min(), hasIncoming(since: earliest) { wake() }
        }
    }

    /// Whether `incoming/` holds a file written at or after `date`.
    private func hasIncoming(since date: Date) -> Bool {
        spool.entries(in: .incoming).contains { spool.modificationDate(of: $0, in: .incoming).map { $0 >= date } ?? false }
    }

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String {
            "posix_spawn failed: \(String(cString: strerror(code))); check LLM_DEPLOY_WAKE names an executable"
        }
    }

    private func spawn() throws(SpawnError) -> pid_t {
        do {
            return try ChildSpawn.spawn(arguments, searchPath: true, separation: .newSession)
        } catch {
            throw SpawnError(code: error.code)
        }
    }
}
