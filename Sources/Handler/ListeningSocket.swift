#if canImport(Glibc)
import Glibc
#endif
import CFastCGI

/// Where the Handler takes FastCGI connections from.
enum ListeningSocket {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `--socket PATH` (a unix socket, created with `mode`) or `HOST:PORT`; without it, the
    /// socket inherited on fd 0 (spawn-fcgi, systemd `StandardInput=socket`) or fd 3 (systemd
    /// socket activation with `LISTEN_FDS`).
    static func open(address: String?, mode: mode_t, backlog: Int32) throws(Failure) -> Int32 {
        guard let address else { return try inherited() }
        let isUnix = address.hasPrefix("/") || address.hasPrefix(".") || !address.contains(":")
        // libfcgi would print a line and exit(1000) (status 232) on a longer one.
        if isUnix, address.utf8.count > maximumPathLength {
            throw Failure(description: "cannot listen on \(address): a Unix socket's path may have at most \(maximumPathLength) bytes, this one has \(address.utf8.count); choose a shorter --socket (or LLM_DEPLOY_HOME)")
        }
        let previousMask = isUnix ? umask(0o777 & ~mode) : 0
        let fd = FCGX_OpenSocket(address, backlog)
        if isUnix { umask(previousMask) }
        guard fd >= 0 else {
            throw Failure(description: "cannot listen on \(address): \(String(cString: strerror(errno))); check the directory exists and no other process holds it")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        if isUnix { chmod(address, mode) }
        return fd
    }

    /// `sun_path` holds 108 bytes, the terminating NUL included.
    static let maximumPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    private static func inherited() throws(Failure) -> Int32 {
        let environment = ProcessEnvironment.current
        if let count = environment["LISTEN_FDS"].flatMap(Int.init), count >= 1,
            environment["LISTEN_PID"].flatMap(Int32.init) == getpid(), isSocket(3)
        {
            return 3
        }
        if isSocket(0) { return 0 }
        throw Failure(description: "no listening socket: pass --socket PATH (or HOST:PORT), or start the Handler under spawn-fcgi or a systemd socket unit")
    }

    private static func isSocket(_ fd: Int32) -> Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }
}

/// The process environment as a dictionary (FoundationEssentials' `ProcessInfo` reads it once).
enum ProcessEnvironment {
    static var current: [String: String] {
        var values: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return values
    }
}
