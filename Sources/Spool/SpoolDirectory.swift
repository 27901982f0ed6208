#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import FoundationEssentials
import Synchronization

/// The spool: one directory per `SpoolState`, plus `tmp/` for files being written and
/// `journal/` for the Finisher's per-task records (docs/architecture.md, The spool contract).
///
/// Delivery follows Maildir: write under `tmp/`, link into `incoming/`, then flush. A file is in
/// `incoming/` complete or not at all, and `deliver` returns only once it is durable. The flush
/// is grouped across concurrent deliveries (`LLM_DEPLOY_SPOOL_SYNC`): by default one `syncfs` covers
/// the contents and links of every file delivered before it; `directory` instead `fdatasync`s
/// each file and groups only the `fsync` of `incoming/`, for a spool that shares its file system
/// with heavy unrelated writes.
public final class SpoolDirectory: Sendable {
    /// The spool root.
    public let root: String
    private let incomingSync: DirectorySync
    private let sequence = Atomic<UInt64>(0)

    /// The subdirectories, created on first use.
    public static let subdirectories = ["tmp", "journal"] + SpoolState.allCases.map(\.rawValue)

    /// Opens the spool at `root`, creating any missing directory (mode 0750).
    public init(root: String, sync: DirectorySync.Scope = .fileSystem) throws(SpoolError) {
        self.root = root
        try Self.makeDirectory(root)
        for name in Self.subdirectories {
            try Self.makeDirectory("\(root)/\(name)")
        }
        incomingSync = try DirectorySync(path: "\(root)/\(SpoolState.incoming.rawValue)", scope: sync)
    }

    /// The path of a task file in a queue.
    public func path(of id: TaskID, in state: SpoolState) -> String {
        "\(root)/\(state.rawValue)/\(id.rawValue)"
    }

    /// The queue holding `id`, or `nil` if the spool has never seen it.
    ///
    /// Files only move forward (incoming → active → notify/done/failed/deferred, notify →
    /// done/failed) or back into
    /// `incoming`, so checking in this order cannot miss a file that moves during the check
    /// except into `incoming`, where delivery's exclusive link catches it.
    public func state(of id: TaskID) -> SpoolState? {
        SpoolState.allCases.first { state in access(path(of: id, in: state), F_OK) == 0 }
    }

    /// What `deliver` did.
    public enum Delivery: Sendable, Equatable {
        /// Newly written and durable in `incoming/`.
        case accepted
        /// The spool already holds this task (in the given queue); nothing was written.
        case duplicate(SpoolState)
    }

    /// Writes `request` durably into `incoming/` unless the spool already holds its ID.
    public func deliver(_ request: TaskRequest) throws(SpoolError) -> Delivery {
        let id = request.id
        if let existing = state(of: id) { return .duplicate(existing) }
        let bytes: Data
        do {
            bytes = try request.encoded()
        } catch {
            throw SpoolError("encode", path: id.rawValue, errno: EINVAL)
        }
        let temporary = "\(root)/tmp/\(id.rawValue).\(getpid()).\(sequence.add(1, ordering: .relaxed).newValue)"
        try Self.writeDurably(bytes, to: temporary, flush: incomingSync.scope == .directory)
        defer { unlink(temporary) }
        let final = path(of: id, in: .incoming)
        if link(temporary, final) != 0 {
            let code = errno
            if code == EEXIST { return .duplicate(.incoming) }
            throw SpoolError("link", path: final, errno: code)
        }
        // The first check can miss a task moving back through incoming/ (a due deferred task
        // promoted and claimed meanwhile): look again now that ours is visible, and withdraw it.
        if let other = [SpoolState.active, .notify, .deferred, .done, .failed].first(where: { access(path(of: id, in: $0), F_OK) == 0 }) {
            unlink(final)
            return .duplicate(other)
        }
        try incomingSync.sync()
        return .accepted
    }

    /// Creates `path` exclusively, writes `bytes`, and (with `flush`) `fdatasync`s them.
    static func writeDurably(_ bytes: Data, to path: String, flush: Bool = true) throws(SpoolError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SpoolError("create", path: path, errno: errno) }
        var failure: SpoolError?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = SpoolError("write", path: path, errno: errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil, flush, fdatasync(fd) != 0 { failure = SpoolError("fdatasync", path: path, errno: errno) }
        close(fd)
        if let failure {
            unlink(path)
            throw failure
        }
    }

    static func makeDirectory(_ path: String) throws(SpoolError) {
        if mkdir(path, 0o750) != 0, errno != EEXIST {
            throw SpoolError("mkdir", path: path, errno: errno)
        }
    }
}
