#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import FoundationEssentials

/// Manual drop-ins: task files an operator writes into `incoming/` by hand, under any name.
///
/// The spool never follows a link out of itself: a drop-in is opened with `O_NOFOLLOW` and must
/// be a regular file, so a symbolic link (or a FIFO, socket, device or directory) is refused, not
/// read. An adopted drop-in is filed re-encoded from the validated task, so nothing but the
/// task's own fields reaches `done/`: a `secret` the operator copied in from a request is dropped.
/// A file written by hand under a task ID's name is claimed as it is, so the Finisher drops its
/// `secret` before claiming it (`dropSecret(ofIncoming:bytes:)`).
extension SpoolDirectory {
    /// What `adoptDropIn` did with a file.
    public enum DropInAdoption: Sendable, Equatable {
        /// Filed in `incoming/` under its task ID; the drop-in is gone.
        case adopted(TaskID)
        /// The spool already holds the task (in that queue); the drop-in is gone.
        case duplicate(TaskID, SpoolState)
        /// Not a usable task, for the reason given; the file is left where it is, for the
        /// caller to move to `failed/`.
        case refused(String)
    }

    /// The entries of `incoming/` that need adopting: any not named as a task ID, and any that is
    /// not a regular file whatever its name. Names of files still being copied in (`.NAME`,
    /// `NAME.tmp`) are left alone unless they are not regular files.
    public func dropIns() -> [String] {
        entries(in: .incoming).filter { name in
            guard isRegularFile(name, in: .incoming) else { return true }
            return TaskID(name) == nil && !name.hasSuffix(".tmp")
        }
    }

    /// Validates `incoming/NAME` and files it under its task ID, or says why it cannot run.
    /// - Throws: `SpoolError` when the file cannot be read or the task cannot be filed (ENOENT:
    ///   another Finisher took the file first).
    public func adoptDropIn(_ name: String) throws(SpoolError) -> DropInAdoption {
        let path = "\(root)/\(SpoolState.incoming.rawValue)/\(name)"
        let file: RegularFile
        switch try Self.readRegularFile(path) {
        case .refused(let reason): return .refused(reason)
        case .read(let read): file = read
        }
        var request: TaskRequest
        do {
            request = try TaskRequest.decodeSpoolFile(file.bytes)
        } catch {
            try dropSecret(from: file.bytes, at: path)
            return .refused("not a valid task: \(error)")
        }
        // The deadline counts from when the file was written, as it did before adoption.
        request.receivedAt = request.receivedAt ?? file.modified
        let outcome = try deliver(request)
        if unlink(path) != 0, errno != ENOENT { throw SpoolError("unlink", path: path, errno: errno) }
        switch outcome {
        case .accepted: return .adopted(request.id)
        case .duplicate(let state): return .duplicate(request.id, state)
        }
    }

    /// Whether a queue entry is a regular file (not a link to one).
    public func isRegularFile(_ name: String, in state: SpoolState) -> Bool {
        var info = stat()
        return lstat("\(root)/\(state.rawValue)/\(name)", &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    /// A regular file's bytes and modification time.
    struct RegularFile {
        var bytes: Data
        var modified: Date
    }

    enum SafeRead {
        case read(RegularFile)
        case refused(String)
    }

    /// Reads `path` if it is a regular file, without following a final symbolic link and
    /// without blocking on a FIFO.
    static func readRegularFile(_ path: String) throws(SpoolError) -> SafeRead {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            switch errno {
            case ELOOP: return .refused("is a symbolic link: a drop-in must be a regular file (links are never followed)")
            case ENXIO: return .refused("is a socket: a drop-in must be a regular file")
            default: throw SpoolError("open", path: path, errno: errno)
            }
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SpoolError("fstat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return .refused("is \(Self.kind(of: info.st_mode)): a drop-in must be a regular file")
        }
        var bytes = Data()
        bytes.reserveCapacity(Int(info.st_size))
        // One read for a typical task file: the spool's scans read every queued file.
        var chunk = [UInt8](repeating: 0, count: min(1 << 20, max(4096, Int(info.st_size) + 1)))
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw SpoolError("read", path: path, errno: errno) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        let modified = Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
        return .read(RegularFile(bytes: bytes, modified: modified))
    }

    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    /// Rewrites `incoming/NAME` without its `secret`, if it has one: for a file written by hand
    /// under a task ID's name, which is claimed as it is rather than adopted and re-encoded.
    public func dropSecret(ofIncoming name: String, bytes: Data) throws(SpoolError) {
        try dropSecret(from: bytes, at: "\(root)/\(SpoolState.incoming.rawValue)/\(name)")
    }

    /// A refused drop-in goes to `failed/` for the operator to fix; if it is a JSON object with
    /// a `secret`, the file is rewritten without it first (other fields kept as they were).
    private func dropSecret(from bytes: Data, at path: String) throws(SpoolError) {
        guard case .object(var fields)? = try? JSONValue.parse(bytes), fields.removeValue(forKey: "secret") != nil,
            let rewritten = try? JSONEncoder().encode(EncodableJSON(value: .object(fields)))
        else { return }
        try replaceDurably(path, with: rewritten)
    }
}

/// A parsed JSON value written back out.
private struct EncodableJSON: Encodable {
    var value: JSONValue

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values.map(EncodableJSON.init))
        case .object(let fields): try container.encode(fields.mapValues(EncodableJSON.init))
        }
    }
}
