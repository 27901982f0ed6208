#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes writes durable with as few flushes as possible (group commit).
///
/// A caller returns only after a flush that *started after it called* has completed, so its own
/// writes are covered. Callers that arrive while one flush runs share the next one. No caller is
/// answered before its data is on disk.
public final class DirectorySync: @unchecked Sendable {
    /// What one flush covers.
    public enum Scope: String, Sendable {
        /// `fsync` of the directory: its entries only (file contents are flushed by each writer).
        case directory
        /// `syncfs` of the file system holding the directory: contents and entries of every
        /// file written before it, in one flush for a whole group of requests.
        case fileSystem = "filesystem"
    }

    public let scope: Scope
    private let descriptor: Int32
    private let path: String
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `lock`.
    private var started: UInt64 = 0
    private var completed: UInt64 = 0
    private var lastFailure: (generation: UInt64, errno: Int32) = (0, 0)
    private var inFlight = false

    /// Opens `path`, which must be a directory.
    public init(path: String, scope: Scope = .directory) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError("open", path: path, errno: errno) }
        descriptor = fd
        self.path = path
        self.scope = scope
        pthread_mutex_init(lock, nil)
        pthread_cond_init(finished, nil)
    }

    deinit {
        close(descriptor)
        pthread_mutex_destroy(lock)
        pthread_cond_destroy(finished)
        lock.deallocate()
        finished.deallocate()
    }

    /// Returns once every entry created in the directory before this call is durable.
    public func sync() throws(SpoolError) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let needed = started + 1
        while completed < needed {
            if inFlight {
                pthread_cond_wait(finished, lock)
                continue
            }
            inFlight = true
            started += 1
            let generation = started
            pthread_mutex_unlock(lock)
            let status = scope == .directory ? fsync(descriptor) : syncfs(descriptor)
            let failure = status == 0 ? 0 : errno
            pthread_mutex_lock(lock)
            inFlight = false
            completed = generation
            if failure != 0 { lastFailure = (generation, failure) }
            pthread_cond_broadcast(finished)
        }
        if lastFailure.generation >= needed {
            throw SpoolError(scope == .directory ? "fsync" : "syncfs", path: path, errno: lastFailure.errno)
        }
    }
}

/// Linux's `syncfs(2)` (glibc ≥ 2.14), declared under `_GNU_SOURCE`, which Swift's Glibc module
/// does not import. Since Linux 5.8 it reports writeback errors.
@_silgen_name("syncfs")
private func syncfs(_ descriptor: Int32) -> Int32
