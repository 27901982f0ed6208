#if canImport(Glibc)
import Glibc
#endif
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
/// starts up to N Finishers and no more. Anything missed is picked up by the recovery timer; a
/// failed spawn is logged and never fails the request.
final class FinisherWaker: Sendable {
    let arguments: [String]
    let slots: FinisherSlots
    private let logger: Logger
    /// Finishers this Handler started that have not exited yet.
    private let running = Mutex<Set<pid_t>>([])

    init(arguments: [String], slots: FinisherSlots, logger: Logger) {
        precondition(!arguments.isEmpty)
        self.arguments = arguments
        self.slots = slots
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
        let busy = running.withLock { children -> Bool in
            Self.reap(&children)
            return children.count >= slots.count
        }
        if busy || !slots.anyFree() { return }
        do {
            let pid = try spawn()
            running.withLock { _ = $0.insert(pid) }
        } catch {
            logger.error("could not start a Finisher", metadata: ["command": "\(arguments[0])", "error": "\(error)"])
        }
    }

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String {
            "posix_spawn failed: \(String(cString: strerror(code))); check LLM_DEPLOY_WAKE names an executable"
        }
    }

    private func spawn() throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        _ = closeFrom(&actions, 3)
        // POSIX_SPAWN_SETSID (glibc ≥ 2.26; hidden behind _GNU_SOURCE) and a clean signal mask.
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(0x80 | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard status == 0 else { throw SpawnError(code: status) }
        return pid
    }

    /// Collects exited Finishers, so none lingers as a zombie and `running` holds only live ones.
    private static func reap(_ children: inout Set<pid_t>) {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            children.remove(pid)
        }
    }
}

/// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, declared under `__USE_MISC`,
/// which Swift's Glibc module does not import. It keeps the accepted FastCGI connections
/// (libfcgi does not open them close-on-exec) out of the Finisher.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32
