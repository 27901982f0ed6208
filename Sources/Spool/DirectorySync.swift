#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes directory entries durable with as few `fsync` calls as possible (group commit).
///
/// A caller returns only after an `fsync` of the directory that *started after it called*
/// has completed, so its own rename or link is covered. Callers that arrive while one `fsync`
/// runs share the next one. No caller is answered before its entry is on disk.
public final class DirectorySync: @unchecked Sendable {
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
    public init(path: String) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError("open", path: path, errno: errno) }
        descriptor = fd
        self.path = path
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
            let status = fsync(descriptor)
            let failure = status == 0 ? 0 : errno
            pthread_mutex_lock(lock)
            inFlight = false
            completed = generation
            if failure != 0 { lastFailure = (generation, failure) }
            pthread_cond_broadcast(finished)
        }
        if lastFailure.generation >= needed {
            throw SpoolError("fsync", path: path, errno: lastFailure.errno)
        }
    }
}
