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
/// Delivery follows Maildir: write a file without a name in `incoming/` (`O_TMPFILE`; under `tmp/`
/// where the file system has none), link it as `incoming/ID`, then flush. A file is in
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
    /// Descriptors of `tmp/` and of each queue (in `SpoolState.allCases` order), so that a
    /// delivery looks up one name in a directory instead of walking the whole path each time.
    private let temporaryDescriptor: Int32
    private let queueDescriptors: [Int32]
    /// Whether deliveries write unnamed files (`O_TMPFILE`); cleared when the file system refuses.
    private let unnamedFiles: Atomic<Bool>

    /// The subdirectories, created on first use.
    public static let subdirectories = ["tmp", "journal"] + SpoolState.allCases.map(\.rawValue)

    /// Opens the spool at `root`, creating any missing directory (mode 0750).
    public convenience init(root: String, sync: DirectorySync.Scope = .fileSystem) throws(SpoolError) {
        try self.init(root: root, sync: sync, unnamedFiles: true)
    }

    /// `unnamedFiles: false` delivers through `tmp/` as on a file system without `O_TMPFILE`.
    init(root: String, sync: DirectorySync.Scope, unnamedFiles: Bool) throws(SpoolError) {
        self.root = root
        self.unnamedFiles = Atomic(unnamedFiles)
        try Self.makeDirectory(root)
        for name in Self.subdirectories {
            try Self.makeDirectory("\(root)/\(name)")
        }
        incomingSync = try DirectorySync(path: "\(root)/\(SpoolState.incoming.rawValue)", scope: sync)
        var descriptors: [Int32] = []
        for name in ["tmp"] + SpoolState.allCases.map(\.rawValue) {
            let fd = open("\(root)/\(name)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                descriptors.forEach { close($0) }
                throw SpoolError("open", path: "\(root)/\(name)", errno: code)
            }
            descriptors.append(fd)
        }
        temporaryDescriptor = descriptors[0]
        queueDescriptors = Array(descriptors.dropFirst())
    }

    deinit {
        close(temporaryDescriptor)
        queueDescriptors.forEach { close($0) }
    }

    /// The queue's descriptor: they were opened in `SpoolState.allCases` order.
    private func descriptor(of state: SpoolState) -> Int32 {
        queueDescriptors[SpoolState.allCases.firstIndex(of: state)!]
    }

    /// `AT_EACCESS` spares the kernel switching to the real user's credentials for the check
    /// (the same user here), which cost more than the lookup itself.
    func exists(_ id: TaskID, in state: SpoolState) -> Bool {
        faccessat(descriptor(of: state), id.rawValue, F_OK, AT_EACCESS) == 0
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
        SpoolState.allCases.first { exists(id, in: $0) }
    }

    /// The queues a task reaches after `incoming/`, in the order it moves through them.
    static let laterStates: [SpoolState] = [.active, .notify, .deferred, .done, .failed]

    /// What `deliver` did.
    public enum Delivery: Sendable, Equatable {
        /// Newly written and durable in `incoming/`.
        case accepted
        /// The spool already holds this task (in the given queue); nothing was written.
        case duplicate(SpoolState)
    }

    /// Writes `request` durably into `incoming/` unless the spool already holds its ID.
    public func deliver(_ request: TaskRequest) throws(SpoolError) -> Delivery {
        try deliver(request, id: request.id)
    }

    /// `deliver(_:)` for a caller that already derived `id` from `request`.
    public func deliver(_ request: TaskRequest, id: TaskID) throws(SpoolError) -> Delivery {
        // Already in incoming/ shows as the link's EEXIST below; look only in the other queues
        // (incoming/ is the large directory, where a lookup costs most).
        if let existing = Self.laterStates.first(where: { exists(id, in: $0) }) { return .duplicate(existing) }
        let bytes = request.encodedBytes()
        let flush = incomingSync.scope == .directory
        let incoming = descriptor(of: .incoming)
        if unnamedFiles.load(ordering: .relaxed),
            let unnamed = try Self.writeUnnamed(bytes, in: incoming, shown: "\(root)/incoming", flush: flush, supported: unnamedFiles)
        {
            defer { close(unnamed) }
            if Self.name(unnamed, in: incoming, as: id.rawValue) != 0 {
                let code = errno
                if code == EEXIST { return .duplicate(.incoming) }
                throw SpoolError("link", path: path(of: id, in: .incoming), errno: code)
            }
        } else {
            let temporary = "\(id.rawValue).\(getpid()).\(sequence.add(1, ordering: .relaxed).newValue)"
            try Self.writeDurably(bytes, in: temporaryDescriptor, name: temporary, shown: "\(root)/tmp/\(temporary)", flush: flush)
            defer { unlinkat(temporaryDescriptor, temporary, 0) }
            if linkat(temporaryDescriptor, temporary, incoming, id.rawValue, 0) != 0 {
                let code = errno
                if code == EEXIST { return .duplicate(.incoming) }
                throw SpoolError("link", path: path(of: id, in: .incoming), errno: code)
            }
        }
        // The check above follows the queues in the order files move, so a task moving forward
        // meanwhile cannot slip past it. One moving back through incoming/ and claimed again
        // before our link can (a due deferred task, `retry`, `recover`); `claim` drops such a
        // copy: four lookups per claim instead of five more per delivery.
        try incomingSync.sync()
        return .accepted
    }

    /// Whether `linkat(AT_EMPTY_PATH)` works for this process (Linux ≥ 6.10 allows it for a file
    /// the caller opened with `O_TMPFILE`; before, only with CAP_DAC_READ_SEARCH).
    private static let emptyPathLinks = Atomic<Bool>(true)

    /// Writes `bytes` to a new file without a name in `directory` (`O_TMPFILE`), so a delivery
    /// creates no name under `tmp/` only to remove it, and a crash leaves nothing behind; (with
    /// `flush`) `fdatasync`s it. - Returns: its descriptor, or `nil` when the file system has no
    /// `O_TMPFILE` (the caller then goes through `tmp/`).
    static func writeUnnamed(
        _ bytes: [UInt8], in directory: Int32, shown path: String, flush: Bool, supported: borrowing Atomic<Bool>
    ) throws(SpoolError) -> Int32? {
        let fd = openat(directory, ".", temporaryFile | O_WRONLY | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            let code = errno
            if code == EOPNOTSUPP || code == EISDIR || code == EINVAL {
                supported.store(false, ordering: .relaxed)
                return nil
            }
            throw SpoolError("create", path: path, errno: code)
        }
        if let failure = writeAll(bytes, to: fd, shown: path) ?? (flush && fdatasync(fd) != 0 ? SpoolError("fdatasync", path: path, errno: errno) : nil) {
            close(fd)
            throw failure
        }
        return fd
    }

    /// Links the unnamed file `fd` into `directory` as `name`. - Returns: `linkat`'s result.
    static func name(_ fd: Int32, in directory: Int32, as name: String) -> Int32 {
        if emptyPathLinks.load(ordering: .relaxed) {
            let status = linkat(fd, "", directory, name, emptyPath)
            if status == 0 || errno != ENOENT && errno != EPERM { return status }
            emptyPathLinks.store(false, ordering: .relaxed)
        }
        return nameThroughProc(fd, in: directory, as: name)
    }

    /// `name` for kernels before 6.10: through the descriptor's magic link in /proc.
    static func nameThroughProc(_ fd: Int32, in directory: Int32, as name: String) -> Int32 {
        linkat(AT_FDCWD, "/proc/self/fd/\(fd)", directory, name, AT_SYMLINK_FOLLOW)
    }

    /// Linux's `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`) and `AT_EMPTY_PATH`, which Swift's Glibc
    /// module does not import (a macro expression; `_GNU_SOURCE` only).
    private static let temporaryFile: Int32 = 0o20000000 | O_DIRECTORY
    private static let emptyPath: Int32 = 0x1000

    /// Writes all of `bytes` to `fd`. - Returns: the failure, if any.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32, shown path: String) -> SpoolError? {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return SpoolError("write", path: path, errno: errno)
                }
                offset += written
            }
            return nil
        }
    }

    /// Creates `path` exclusively, writes `bytes`, and (with `flush`) `fdatasync`s them.
    static func writeDurably(_ bytes: Data, to path: String, flush: Bool = true) throws(SpoolError) {
        try writeDurably([UInt8](bytes), in: AT_FDCWD, name: path, shown: path, flush: flush)
    }

    /// Creates `name` in `directory` exclusively, writes `bytes` in one call, and (with `flush`)
    /// `fdatasync`s them; errors name the file as `shown`.
    static func writeDurably(_ bytes: [UInt8], in directory: Int32, name: String, shown path: String, flush: Bool) throws(SpoolError) {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SpoolError("create", path: path, errno: errno) }
        var failure = writeAll(bytes, to: fd, shown: path)
        if failure == nil, flush, fdatasync(fd) != 0 { failure = SpoolError("fdatasync", path: path, errno: errno) }
        close(fd)
        if let failure {
            unlinkat(directory, name, 0)
            throw failure
        }
    }

    static func makeDirectory(_ path: String) throws(SpoolError) {
        if mkdir(path, 0o750) != 0, errno != EEXIST {
            throw SpoolError("mkdir", path: path, errno: errno)
        }
    }
}
