import Foundation
import Testing
import TestSupport

/// The local stack's scripts, run as an operator would.
@Suite(.serialized) struct ScriptsTests {
    /// `scripts/down` stops the detached Finishers of its own state directory, and only those;
    /// the task a stopped Finisher held is finished by the next `recover`.
    @Test func downStopsTheFinishersOfItsOwnStateDirectory() throws {
        let evaluator = try Peer("evaluator.py", ["--hang"])
        let wake = "\(Paths.product("llm-deploy-finisher")) drain"
        try withStack(environment: ["LLM_DEPLOY_WAKE": wake]) { other in
            try withStack(environment: ["LLM_DEPLOY_WAKE": wake]) { stack in
                let id = try stack.submit(["task": "stopped", "nonce": "stopped", "evaluation_url": "\(evaluator.url)/n"])
                _ = try other.submit(["task": "kept", "nonce": "kept", "evaluation_url": "\(evaluator.url)/n"])
                var ours: [pid_t] = []
                var theirs: [pid_t] = []
                // Both Finishers are held by the evaluator that never answers.
                #expect(eventually(timeout: 30) {
                    let held = Set((try? evaluator.requests())?.compactMap { ($0["json"] as? [String: Any])?["nonce"] as? String } ?? [])
                    ours = Self.finishers(home: stack.home)
                    theirs = Self.finishers(home: other.home)
                    return held == ["stopped", "kept"] && !ours.isEmpty && !theirs.isEmpty
                })
                defer { for pid in theirs + ours where kill(pid, 0) == 0 { kill(pid, SIGKILL) } }

                let down = try commandOutput(
                    "\(Paths.packageRoot)/scripts/down", [],
                    environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "LLM_DEPLOY_HOME": stack.home])
                #expect(down.contains("stopped the Finishers of \(stack.home)"), "\(down)")
                #expect(eventually(timeout: 5) { ours.allSatisfy { kill($0, 0) != 0 } }, "a Finisher of the stopped stack is still running")
                #expect(!theirs.isEmpty && theirs.allSatisfy { kill($0, 0) == 0 }, "another state directory's Finisher was stopped")

                // Crash-safe: recover puts the held task back and finishes it.
                try evaluator.configure(["hang": false])
                let recover = try stack.finisher(["recover"], timeout: 60)
                #expect(recover.status == 0, "\(recover.log)")
                #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            }
        }
    }

    /// Running `llm-deploy-finisher` processes whose LLM_DEPLOY_HOME is `home`.
    static func finishers(home: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/exe"),
                exe.hasSuffix("/llm-deploy-finisher"),
                let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ")
            else { return nil }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return variables.contains("LLM_DEPLOY_HOME=\(home)") ? pid : nil
        }
    }
}
