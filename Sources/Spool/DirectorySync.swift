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
///
/// The caller that finds no flush running flushes itself (no hand-off to another thread, so an
/// idle spool answers without an extra wake-up). Callers that arrive meanwhile queue, each
/// sleeping on its own semaphore. When the flush ends, its leader wakes the callers it covered
/// with their result and hands the next flush to the first caller still queued, which covers
/// everyone queued with it. Each waiter is woken exactly once; a shared condition variable woke
/// them all to fight over one mutex, which cost more CPU than the flushes did.
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
    /// The flush itself: `fsync` or `syncfs` of the descriptor, `errno` on failure or 0.
    private let flush: @Sendable (Int32) -> Int32
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    // Guarded by `lock`.
    private var inFlight = false
    private var queue: [UnsafeMutablePointer<Waiter>] = []

    /// A caller waiting for a flush.
    private struct Waiter {
        var semaphore = sem_t()
        /// Set before the semaphore is posted: the flush's `errno`, or 0.
        var failure: Int32 = 0
        /// Set instead when this caller is to run the next flush.
        var leads = false
    }

    /// Opens `path`, which must be a directory.
    public convenience init(path: String, scope: Scope = .directory) throws(SpoolError) {
        try self.init(path: path, scope: scope) { descriptor in
            let status = scope == .directory ? fsync(descriptor) : syncfs(descriptor)
            return status == 0 ? 0 : errno
        }
    }

    /// `flush` stands in for `fsync`/`syncfs` in the unit tests.
    init(path: String, scope: Scope, flush: @escaping @Sendable (Int32) -> Int32) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError("open", path: path, errno: errno) }
        descriptor = fd
        self.path = path
        self.scope = scope
        self.flush = flush
        pthread_mutex_init(lock, nil)
    }

    deinit {
        close(descriptor)
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Returns once every entry created in the directory before this call is durable.
    public func sync() throws(SpoolError) {
        let waiter = UnsafeMutablePointer<Waiter>.allocate(capacity: 1)
        waiter.initialize(to: Waiter())
        sem_init(&waiter.pointee.semaphore, 0, 0)
        defer {
            sem_destroy(&waiter.pointee.semaphore)
            waiter.deallocate()
        }
        pthread_mutex_lock(lock)
        if inFlight {
            queue.append(waiter)
            pthread_mutex_unlock(lock)
            while sem_wait(&waiter.pointee.semaphore) != 0 {}  // EINTR
        } else {
            inFlight = true
            pthread_mutex_unlock(lock)
            waiter.pointee.leads = true
        }
        if waiter.pointee.leads { lead(waiter) }
        if waiter.pointee.failure != 0 {
            throw SpoolError(scope == .directory ? "fsync" : "syncfs", path: path, errno: waiter.pointee.failure)
        }
    }

    /// Runs one flush for `leader` and everyone queued now, answers them, and passes the next
    /// flush on. Called with `inFlight` set.
    private func lead(_ leader: UnsafeMutablePointer<Waiter>) {
        pthread_mutex_lock(lock)
        var covered: [UnsafeMutablePointer<Waiter>] = []
        swap(&covered, &queue)
        pthread_mutex_unlock(lock)
        let failure = flush(descriptor)
        leader.pointee.failure = failure
        for waiter in covered {
            waiter.pointee.failure = failure
            sem_post(&waiter.pointee.semaphore)
        }
        pthread_mutex_lock(lock)
        if queue.isEmpty {
            inFlight = false
            pthread_mutex_unlock(lock)
        } else {
            let next = queue.removeFirst()
            pthread_mutex_unlock(lock)
            next.pointee.leads = true
            sem_post(&next.pointee.semaphore)
        }
    }
}

/// Linux's `syncfs(2)` (glibc ≥ 2.14), declared under `_GNU_SOURCE`, which Swift's Glibc module
/// does not import. Since Linux 5.8 it reports writeback errors.
@_silgen_name("syncfs")
private func syncfs(_ descriptor: Int32) -> Int32
