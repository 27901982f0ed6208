#if canImport(Glibc)
import Glibc
#endif

/// Starts a child process apart from its parent: stdin from /dev/null, no descriptor above 2
/// inherited (libfcgi's accepted connections are not close-on-exec), default signal dispositions
/// and an empty signal mask (the parent's threads may block signals, and a mask is inherited
/// across exec), in a session or a process group of its own. The Handler starts Finishers this
/// way, and the check stage starts chromedriver and nginx.
public enum ChildSpawn {
    /// How the child stands apart.
    public enum Separation: Sendable {
        /// A new session (`setsid`): detached from the parent's terminal and process group.
        case newSession
        /// A new process group led by the child, so the whole group can be signalled at once.
        case newProcessGroup
    }

    /// `posix_spawn` failed; `code` is its errno value.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var code: Int32
        public var description: String { String(cString: strerror(code)) }
    }

    /// Starts `arguments[0]` (looked up on `PATH` when `searchPath`) with `arguments`.
    /// - Parameters:
    ///   - environment: the child's whole environment; `nil` passes the parent's on.
    ///   - output: a file for stdout and stderr (appended to, created 0600); `nil` inherits them.
    /// - Returns: the child's process ID; it is never waited for here.
    public static func spawn(
        _ arguments: [String], environment: [String: String]? = nil, output: String? = nil,
        searchPath: Bool = false, separation: Separation
    ) throws(Failure) -> pid_t {
        precondition(!arguments.isEmpty)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        _ = closeFrom(&actions, 3)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        switch separation {
        case .newSession:
            flags |= 0x80  // POSIX_SPAWN_SETSID (glibc ≥ 2.26; hidden behind _GNU_SOURCE)
        case .newProcessGroup:
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status: Int32
        if let envp {
            status = searchPath
                ? posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
                : posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        } else {
            status = searchPath
                ? posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
                : posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        }
        guard status == 0 else { throw Failure(code: status) }
        return pid
    }
}

/// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, declared under `__USE_MISC`,
/// which Swift's Glibc module does not import.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32
