import Foundation
import Testing
import TestSupport

/// Tasks that are accepted but cannot be built as they stand: each is either published (the
/// poison made harmless) or fails at once, for good, with its reason in `status`; none is retried
/// for hours.
@Suite(.serialized) struct PoisonTaskTests {
    /// A NUL (which git refuses in a commit message), terminal escapes, a bidi override and a
    /// very long first line: the commit subject is one clean, short line and the task ships.
    @Test func aBriefsControlCharactersNeverReachTheCommit() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let first = "Weather\u{0}app \u{1B}[31mred\u{7F} \u{202E}txt.exe " + String(repeating: "long ", count: 2000)
            let id = try stack.submit(["task": "poisoned", "nonce": "p", "brief": "\n  \n" + first + "\nSecond line.",
                                       "evaluation_url": "\(evaluator.url)/n"])
            let started = Date()
            try stack.finisher(["drain"])
            #expect(Date().timeIntervalSince(started) < 30)
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try evaluator.requests().count == 1)
            let bare = "\(stack.home)/data/git/poisoned.git"
            let subject = try stack.git(["log", "-1", "--format=%s", "main"], in: bare)
            #expect(subject.hasPrefix("Round 1: Weather app [31mred txt.exe long"), "\(subject)")
            #expect(subject.count <= 70 && subject.hasSuffix("…"), "\(subject)")
            #expect(!subject.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format })
            // The trailers are still the message's last paragraph.
            let trailers = try stack.git(["log", "-1", "--format=%(trailers:only)", "main"], in: bare)
            #expect(trailers.contains("Llm-Deploy-Task: \(id)") && trailers.contains("Llm-Deploy-Owner: "))
        }
    }

    /// The repository refuses the push (an operator's pre-receive hook): git will refuse it the
    /// same way every time, so the task fails now, with git's reason in `status`, instead of
    /// being deferred for two hours.
    @Test func aDeterministicGitRefusalFailsTheTaskAtOnce() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let url = "\(evaluator.url)/n"
            _ = try stack.submit(["task": "hooked", "nonce": "h1", "evaluation_url": url])
            try stack.finisher(["drain"])
            let hook = "\(stack.home)/data/git/hooked.git/hooks/pre-receive"
            try "#!/bin/sh\necho 'policy: this repository is frozen' >&2\nexit 1\n".write(toFile: hook, atomically: true, encoding: .utf8)
            chmod(hook, 0o755)
            let id = try stack.submit(["task": "hooked", "round": 2, "nonce": "h2", "brief": "Change it.", "evaluation_url": url])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(id)"))
            let journal = try stack.journal(id)
            #expect(journal["deferrals"] as? Int == 0)
            let rows = try JSONSerialization.jsonObject(with: Data(try stack.finisher(["status", "--json"]).log.utf8)) as? [[String: Any]] ?? []
            let reason = try #require(rows.first { $0["id"] as? String == id })["last_error"] as? String ?? ""
            #expect(reason.hasPrefix("publish: ") && reason.contains("this repository is frozen"), "\(reason)")
            // Its work directory is not left behind.
            #expect(!FileManager.default.fileExists(atPath: "\(stack.home)/data/work/\(id)"))
        }
    }
}
