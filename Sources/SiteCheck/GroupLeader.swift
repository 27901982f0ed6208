import Foundation
import Spool

/// A child started as the leader of a new process group, so that one `kill(-pgid)` reaches it
/// and everything it starts: chromedriver's Chromium, its zygotes, renderers and GPU process all
/// stay in the group. Its output goes to a log file in the run directory, its standard input is
/// /dev/null, and it sees only the environment given (never the Finisher's credentials).
final class GroupLeader: Sendable {
    let pid: pid_t
    let name: String
    let logPath: String

    private init(pid: pid_t, name: String, logPath: String) {
        self.pid = pid
        self.name = name
        self.logPath = logPath
    }

    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String], logPath: String) throws(SiteCheckError) -> GroupLeader {
        let name = (executable as NSString).lastPathComponent
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw .notInstalled(name) }
        // Its own process group, so the whole browser can be killed at once.
        let pid: pid_t
        do {
            pid = try ChildSpawn.spawn([executable] + arguments, environment: environment, output: logPath, separation: .newProcessGroup)
        } catch {
            throw .didNotStart(name, error.description)
        }
        return GroupLeader(pid: pid, name: name, logPath: logPath)
    }

    /// Whether the leader itself still runs (reaps it when it has exited).
    var isRunning: Bool {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == 0
    }

    /// SIGKILL to the whole group, then reaps the leader and waits (up to 3 s) until no member
    /// runs any more: a many-threaded Chromium takes a moment to exit after SIGKILL. Members the
    /// leader started are reparented and reaped by init.
    func killGroup() {
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        for _ in 0..<150 {
            guard ProcessTable.entries().contains(where: { $0.group == pid && !$0.zombie }) else { return }
            kill(-pid, SIGKILL)
            usleep(20_000)
        }
    }

    /// The last lines the child printed, for an error message.
    var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(4).joined(separator: " | ").prefix(400).description
    }
}

/// Processes as /proc shows them, for finding what a run left behind.
enum ProcessTable {
    struct Entry {
        var pid: pid_t
        var group: pid_t
        var zombie: Bool
        var commandLine: String
    }

    static func entries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8) else { return nil }
            // The command name in parentheses may hold spaces; the fields after it do not.
            guard let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the name: state, ppid, pgrp, … (proc(5)).
            guard fields.count > 2, let group = pid_t(fields[2]) else { return nil }
            let raw = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(name)/cmdline"))) ?? Data()
            let commandLine = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return Entry(pid: pid, group: group, zombie: fields[0] == "Z", commandLine: commandLine)
        }
    }

    /// The kernel's start time of `pid` (clock ticks since boot), to tell a PID from its reuse.
    static func startTime(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil  // field 22, starttime
    }
}
