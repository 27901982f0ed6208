import Foundation

/// One check run's private directory: Chromium's fresh profile, the nginx configuration and
/// logs, and two small files naming who owns it (`owner`: PID and start time) and the process
/// groups it started (`groups`). A Finisher killed mid-run leaves them behind; `reapAbandoned`
/// finds directories whose owner is gone and kills what they started.
struct RunDirectory: Sendable {
    let path: String

    static func create(under root: String) throws(SiteCheckError) -> RunDirectory {
        let run = RunDirectory(path: "\(root)/run-\(UUID().uuidString.prefix(12).lowercased())")
        let path = run.path
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            for sub in ["tmp", "profile"] {
                try FileManager.default.createDirectory(atPath: "\(path)/\(sub)", withIntermediateDirectories: false)
            }
            let me = getpid()
            try Data("\(me) \(ProcessTable.startTime(of: me) ?? "?")\n".utf8).write(to: URL(fileURLWithPath: "\(path)/owner"))
        } catch {
            throw .workspace("\(path): \(error)")
        }
        // Never an existing one (EEXIST): in a shared /tmp it could be anybody's.
        guard mkdir(run.browserTemporary, 0o700) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: path)
            throw .workspace("\(run.browserTemporary): \(reason)")
        }
        return run
    }

    /// Chromium's temporary directory. Chromium puts its singleton's Unix socket there
    /// (`.org.chromium.Chromium.XXXXXX/SingletonSocket`, 46 more bytes), and a socket's path may
    /// not exceed 107 bytes: under a state directory longer than about 40 bytes the run's own
    /// `tmp/` is too deep, and Chromium exits at start ("Chrome instance exited"). So it is a
    /// short directory in /tmp named after the run, removed with it. (Under systemd the
    /// Finisher's /tmp is private and goes when the service stops, so a crash leaks nothing.)
    var browserTemporary: String {
        "/tmp/llm-deploy-\(path.split(separator: "/").last ?? "run")"
    }

    /// Notes a process group before anything else can go wrong, so a crash still finds it.
    func record(_ leader: GroupLeader) {
        let fd = open("\(path)/groups", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array("\(leader.pid)\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: browserTemporary)
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The environment for chromedriver, Chromium and nginx: nothing of the Finisher's (its
    /// credentials stay out), a home inside the run directory, the run's own temporary directory.
    var childEnvironment: [String: String] {
        [
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": path, "TMPDIR": browserTemporary,
            "XDG_CONFIG_HOME": "\(path)/tmp", "XDG_CACHE_HOME": "\(path)/tmp",
            "LANG": "C.UTF-8",
        ]
    }

    /// Live (non-zombie) processes that belong to this run: members of its recorded groups,
    /// or any process whose command line names the directory.
    func liveProcesses() -> [pid_t] {
        let groups = Set(((try? String(contentsOfFile: "\(path)/groups", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) })
        return ProcessTable.entries().filter { !$0.zombie && (groups.contains($0.group) || $0.commandLine.contains(path)) }.map(\.pid)
    }

    /// Kills every process group recorded here whose members still name this directory (a
    /// reused PID in an unrelated group is left alone), then removes the directory.
    /// - Returns: how many processes were killed.
    @discardableResult
    func reap() -> Int {
        let groups = ((try? String(contentsOfFile: "\(path)/groups", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
        let table = ProcessTable.entries().filter { !$0.zombie }
        var killed = 0
        for group in groups {
            let members = table.filter { $0.group == group }
            guard members.contains(where: { $0.commandLine.contains(path) }) else { continue }
            kill(-group, SIGKILL)
            killed += members.count
        }
        // Chromium's crash handler makes itself a session and group of its own; its command
        // line names the profile, inside this directory (a name no other run shares).
        for stray in table where !groups.contains(stray.group) && stray.commandLine.contains(path) {
            kill(stray.pid, SIGKILL)
            killed += 1
        }
        for _ in 0..<150 where !liveProcesses().isEmpty { usleep(20_000) }
        remove()
        return killed
    }

    /// Whether the Finisher that made this directory is still running.
    var ownerIsAlive: Bool {
        let fields = ((try? String(contentsOfFile: "\(path)/owner", encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let pid = pid_t(fields[0]) else { return false }
        return kill(pid, 0) == 0 && ProcessTable.startTime(of: pid) == String(fields[1])
    }
}

extension CheckSession {
    /// Kills what check runs under `root` left behind when their Finisher died (Chromium,
    /// chromedriver, nginx) and removes their directories. Runs of a live Finisher are left alone.
    /// - Returns: how many processes were killed.
    @discardableResult
    public static func reapAbandoned(under root: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { $0.hasPrefix("run-") }.map { RunDirectory(path: "\(root)/\($0)") }
            .filter { !$0.ownerIsAlive }.reduce(0) { $0 + $1.reap() }
    }
}
