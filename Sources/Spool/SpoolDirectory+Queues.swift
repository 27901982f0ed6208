#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import FoundationEssentials

/// The Finisher's side of the spool: listing, claiming, moving, and the journal.
extension SpoolDirectory {
    /// File names in a queue, oldest first (by modification time, then name).
    public func entries(in state: SpoolState) -> [String] {
        schedule(of: state).map(\.name)
    }

    /// A queue's entries with their modification times, earliest first. In `notify/` that time
    /// is when the entry's next attempt is due (Postfix keeps a deferred message's next retry
    /// time the same way), so the schedule costs one directory read and no journal.
    public func schedule(of state: SpoolState) -> [(name: String, due: Date)] {
        let directory = "\(root)/\(state.rawValue)"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { !$0.hasPrefix(".") }
            .map { name -> (String, Int, Int) in
                var info = stat()
                guard stat("\(directory)/\(name)", &info) == 0 else { return (name, 0, 0) }
                return (name, info.st_mtim.tv_sec, info.st_mtim.tv_nsec)
            }
            .sorted { ($0.1, $0.2, $0.0) < ($1.1, $1.2, $1.0) }
            .map { ($0.0, Date(timeIntervalSince1970: TimeInterval($0.1) + TimeInterval($0.2) / 1e9)) }
    }

    /// Sets an entry's modification time (to the nanosecond): when a `notify/` entry is due, or
    /// when a promoted `deferred/` entry joins the back of `incoming/`. Not flushed: after a
    /// crash an entry is at worst due earlier than planned.
    public func setDue(_ name: String, in state: SpoolState, at date: Date) throws(SpoolError) {
        let path = "\(root)/\(state.rawValue)/\(name)"
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let stamp = timespec(tv_sec: Int(seconds), tv_nsec: Int((date.timeIntervalSince1970 - seconds) * 1e9))
        var times = [stamp, stamp]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else { throw SpoolError("utimensat", path: path, errno: errno) }
    }

    /// The modification time of a queue entry.
    public func modificationDate(of name: String, in state: SpoolState) -> Date? {
        var info = stat()
        guard stat("\(root)/\(state.rawValue)/\(name)", &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }

    /// Reads a queue entry's bytes. Only a regular file is read: a symbolic link is never
    /// followed out of the spool (ELOOP), and anything else is not a task (EINVAL).
    public func contents(of name: String, in state: SpoolState) throws(SpoolError) -> Data {
        let path = "\(root)/\(state.rawValue)/\(name)"
        switch try Self.readRegularFile(path) {
        case .read(let file): return file.bytes
        case .refused: throw SpoolError("read", path: path, errno: isSymbolicLink(path) ? ELOOP : EINVAL)
        }
    }

    private func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    /// Moves an entry between queues durably (rename, then fsync of both directories).
    public func move(_ name: String, from source: SpoolState, to destination: SpoolState, as newName: String? = nil) throws(SpoolError) {
        let from = "\(root)/\(source.rawValue)/\(name)"
        let to = "\(root)/\(destination.rawValue)/\(newName ?? name)"
        guard rename(from, to) == 0 else { throw SpoolError("rename", path: from, errno: errno) }
        try Self.syncDirectory("\(root)/\(destination.rawValue)")
        if source != destination { try Self.syncDirectory("\(root)/\(source.rawValue)") }
    }

    /// A task file held by this process: locked (`flock`) for as long as the claim lives.
    public final class Claim: Sendable {
        public let name: String
        private let descriptor: Int32

        init(name: String, descriptor: Int32) {
            self.name = name
            self.descriptor = descriptor
        }

        deinit { close(descriptor) }
    }

    /// Claims `incoming/NAME`: lock the file, then rename it into `active/`. Returns `nil` when
    /// another Finisher holds it or took it first. Locking before the rename means `recover`
    /// never sees an unlocked file in `active/` that a live Finisher is about to work on.
    public func claim(_ name: String) throws(SpoolError) -> Claim? {
        let path = "\(root)/\(SpoolState.incoming.rawValue)/\(name)"
        // O_NOFOLLOW: a link in incoming/ is never claimed (the drop-in scan refuses it).
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        // Still in incoming/ under this name? (It may have been claimed and moved on meanwhile.)
        var opened = stat()
        var current = stat()
        guard fstat(fd, &opened) == 0, stat(path, &current) == 0, opened.st_ino == current.st_ino else {
            close(fd)
            return nil
        }
        // link + unlink rather than rename: a rename would silently replace a copy of the same
        // task that another Finisher holds in active/.
        let target = "\(root)/\(SpoolState.active.rawValue)/\(name)"
        guard link(path, target) == 0 else {
            let code = errno
            close(fd)
            if code == EEXIST {
                unlink(path)  // a second copy of a task already being worked on
                return nil
            }
            if code == ENOENT { return nil }
            throw SpoolError("link", path: target, errno: code)
        }
        unlink(path)
        // A copy of a task that is already further along: delivered while the task moved back
        // through incoming/ and was claimed again (see `deliver`). Drop it, as the link above
        // drops a copy of a task in active/. Checked in the order files move, as `deliver` does.
        let furtherAlong = TaskID(name).map { id in Self.laterStates.dropFirst().contains { exists(id, in: $0) } } ?? false
        if furtherAlong { unlink(target) }
        let claim = Claim(name: name, descriptor: fd)  // closes the descriptor when released
        try Self.syncDirectory("\(root)/\(SpoolState.active.rawValue)")
        try Self.syncDirectory("\(root)/\(SpoolState.incoming.rawValue)")
        return furtherAlong ? nil : claim
    }

    /// Whether a live process holds the lock on `active/NAME`.
    public func isClaimed(_ name: String) -> Bool {
        let fd = open("\(root)/\(SpoolState.active.rawValue)/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    // MARK: Journal

    public func journalPath(_ name: String) -> String { "\(root)/journal/\(name).json" }

    /// Renames an unreadable journal aside (kept for a person to read) and returns its new path;
    /// the task then starts over with a new one.
    public func setAsideJournal(_ id: TaskID, now: Date = .now) -> String {
        let path = journalPath(id.rawValue)
        let aside = "\(path).unreadable-\(Int(now.timeIntervalSince1970))"
        rename(path, aside)
        return aside
    }

    /// Removes what was left in `tmp/` longer ago than `age` (Maildir's rule: a delivery that
    /// died there will never finish).
    public func removeAbandonedTemporaryFiles(olderThan age: TimeInterval, now: Date = .now) {
        let tmp = "\(root)/tmp"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
            let attributes = try? FileManager.default.attributesOfItem(atPath: "\(tmp)/\(name)")
            if let modified = attributes?[.modificationDate] as? Date, modified < now.addingTimeInterval(-age) {
                try? FileManager.default.removeItem(atPath: "\(tmp)/\(name)")
            }
        }
    }

    /// The journal of `id`, or `nil` if none was written yet.
    public func readJournal(_ id: TaskID) throws -> TaskJournal? {
        guard let data = FileManager.default.contents(atPath: journalPath(id.rawValue)) else { return nil }
        return try Self.journalDecoder.decode(TaskJournal.self, from: data)
    }

    /// Replaces the journal atomically: temporary file, fdatasync, rename, directory fsync.
    public func writeJournal(_ journal: TaskJournal) throws(SpoolError) {
        let bytes: Data
        do {
            bytes = try Self.journalEncoder.encode(journal)
        } catch {
            throw SpoolError("encode journal", path: journal.id.rawValue, errno: EINVAL)
        }
        try replaceDurably(journalPath(journal.id.rawValue), with: bytes)
    }

    /// Why a manual drop-in was refused (kept beside the journals as `NAME.rejected`).
    public func rejectionReason(_ name: String) -> String? {
        FileManager.default.contents(atPath: "\(root)/journal/\(name).rejected").map { String(decoding: $0, as: UTF8.self) }
    }

    public func writeRejection(_ name: String, reason: String) throws(SpoolError) {
        try replaceDurably("\(root)/journal/\(name).rejected", with: Data(reason.utf8))
    }

    public func removeRejection(_ name: String) {
        unlink("\(root)/journal/\(name).rejected")
    }

    func replaceDurably(_ path: String, with bytes: Data) throws(SpoolError) {
        let temporary = "\(path).tmp.\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        try Self.writeDurably(bytes, to: temporary)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw SpoolError("rename", path: path, errno: code)
        }
        try Self.syncDirectory(String(path[..<path.lastIndex(of: "/")!]))
    }

    static func syncDirectory(_ path: String) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError("open", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SpoolError("fsync", path: path, errno: errno) }
    }

    public static let journalEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public static let journalDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
