#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Log lines gathered in memory and written in batches, as nginx's `access_log … buffer=`: one
/// `write(2)` per interval instead of one per line. On the accept path the per-request line's own
/// write cost about as much as nginx's unbuffered access log did, some 10 % of throughput.
///
/// A line at `warning` or above (`now: true`) is written at once, with everything gathered before
/// it, so order is kept and nothing that matters waits. What the process loses if it is killed:
/// at most `interval` of lines below `warning` (the spool, not the log, is the record of a task).
public final class LogBatcher: @unchecked Sendable {
    private let descriptor: Int32
    private let interval: useconds_t
    /// The most bytes gathered before they are written whatever the interval.
    private let limit: Int
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `lock`.
    private var pending: [UInt8] = []

    /// Starts the writer thread, which lives as long as the process.
    public init(descriptor: Int32, intervalMilliseconds: Int = 50, limit: Int = 64 << 10) {
        self.descriptor = descriptor
        self.interval = useconds_t(intervalMilliseconds * 1000)
        self.limit = limit
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pending.reserveCapacity(limit)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<LogBatcher>.fromOpaque(context!).takeRetainedValue().writeForever()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed: \(status)")
        pthread_detach(thread)
    }

    /// Queues `line` (complete, newline included); with `now`, writes it and all before it at once.
    public func append(_ line: [UInt8], now: Bool) {
        pthread_mutex_lock(lock)
        let wasEmpty = pending.isEmpty
        pending.append(contentsOf: line)
        if now || pending.count >= limit {
            flushLocked()
            pthread_mutex_unlock(lock)
            return
        }
        pthread_mutex_unlock(lock)
        if wasEmpty { pthread_cond_signal(wake) }
    }

    /// Waits for a first line, lets more gather for `interval`, writes them, and again.
    private func writeForever() -> Never {
        while true {
            pthread_mutex_lock(lock)
            while pending.isEmpty { pthread_cond_wait(wake, lock) }
            pthread_mutex_unlock(lock)
            usleep(interval)
            pthread_mutex_lock(lock)
            flushLocked()
            pthread_mutex_unlock(lock)
        }
    }

    /// Writes what is gathered, under the lock so that batches leave in order.
    private func flushLocked() {
        var offset = 0
        pending.withUnsafeBytes { buffer in
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break }  // nowhere to log to: drop rather than spin
                offset += written
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}
