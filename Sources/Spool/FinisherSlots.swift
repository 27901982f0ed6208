#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The N places a Finisher may run in: `slots/0 … slots/N-1` under the spool root, each held
/// with an open-file-description lock for the life of the Finisher that owns it.
///
/// OFD locks (not `flock`) because the Handler must *test* whether a slot is free without
/// taking it, which only `F_OFD_GETLK` can do; the kernel drops the lock when the holder dies.
public struct FinisherSlots: Sendable {
    public let directory: String
    public let count: Int

    public init(spoolRoot: String, count: Int) {
        directory = "\(spoolRoot)/slots"
        self.count = count
    }

    /// A held slot; the lock goes when this is released or the process exits.
    public final class Lease: Sendable {
        public let index: Int
        private let descriptor: Mutex<Int32?>

        fileprivate init(index: Int, descriptor: Int32) {
            self.index = index
            self.descriptor = Mutex(descriptor)
        }

        deinit { release() }

        /// Gives the slot back (once; later calls do nothing).
        public func release() {
            descriptor.withLock { fd in
                if let open = fd { close(open) }
                fd = nil
            }
        }
    }

    /// Takes the first free slot, or returns `nil` when all are held.
    public func acquire() throws(SpoolError) -> Lease? {
        try SpoolDirectory.makeDirectory(directory)
        for index in 0..<count {
            let path = "\(directory)/\(index)"
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw SpoolError("open", path: path, errno: errno) }
            var request = Self.wholeFileLock(type: F_WRLCK)
            if fcntl(fd, Self.setLock, &request) == 0 { return Lease(index: index, descriptor: fd) }
            close(fd)
        }
        return nil
    }

    /// Takes the notify lock (`slots/notify`), or returns `nil` when another Finisher holds it.
    /// It is not one of the N slots: the one Finisher serving the notify queue neither needs a
    /// slot nor keeps the Handler from starting Finishers for new tasks.
    public func acquireNotifier() throws(SpoolError) -> Lease? {
        try SpoolDirectory.makeDirectory(directory)
        let path = "\(directory)/notify"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SpoolError("open", path: path, errno: errno) }
        var request = Self.wholeFileLock(type: F_WRLCK)
        if fcntl(fd, Self.setLock, &request) == 0 { return Lease(index: -1, descriptor: fd) }
        close(fd)
        return nil
    }

    /// Whether at least one slot is free right now (a hint: it may be taken a moment later).
    public func anyFree() -> Bool {
        for index in 0..<count {
            let fd = open("\(directory)/\(index)", O_RDONLY | O_CLOEXEC)
            // A slot file that does not exist yet has never been held.
            guard fd >= 0 else { return true }
            defer { close(fd) }
            var probe = Self.wholeFileLock(type: F_WRLCK)
            if fcntl(fd, Self.getLock, &probe) == 0, probe.l_type == Int16(F_UNLCK) { return true }
        }
        return false
    }

    // F_OFD_GETLK and F_OFD_SETLK (Linux 3.15+); glibc defines them only under _GNU_SOURCE.
    private static let getLock: Int32 = 36
    private static let setLock: Int32 = 37

    private static func wholeFileLock(type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        lock.l_pid = 0
        return lock
    }
}
