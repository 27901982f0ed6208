import Foundation
import Testing
import TestSupport

/// The notification POST against evaluators that redirect, stream without end, ask for time, or
/// sit at addresses the service must not reach (real Finisher processes, loopback evaluators).
@Suite(.serialized) struct NotificationClientTests {
    static func posts(_ evaluator: Peer, nonce: String) throws -> [[String: Any]] {
        try evaluator.requests().filter { ($0["json"] as? [String: Any])?["nonce"] as? String == nonce }
    }

    /// 302 would turn the POST into a GET, 307 into a POST elsewhere; either way nothing reaches
    /// the evaluator. A 3xx is a failed attempt, journaled with its Location, never followed.
    @Test(arguments: [302, 307])
    func aRedirectIsAFailedAttemptNotADelivery(_ status: Int) throws {
        let target = try Peer("evaluator.py")
        let redirecting = try Peer("evaluator.py", ["--status", "\(status)", "--location", "\(target.url)/landing"])
        // A 3 s horizon leaves no room for starting Chromium: the page checks are off here.
        try withStack(environment: ["LLM_DEPLOY_NOTIFY_HORIZON": "3", "LLM_DEPLOY_CHECKS": "off"]) { stack in
            let id = try stack.submit(["task": "redirected-\(status)", "nonce": "r", "evaluation_url": "\(redirecting.url)/notify"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(id)"))
            #expect(try target.requests().isEmpty, "the redirect was followed")
            #expect(try Self.posts(redirecting, nonce: "r").count >= 2)
            let attempts = try stack.journal(id)["notifications"] as? [[String: Any]] ?? []
            #expect(attempts.allSatisfy { $0["status"] as? Int == status })
            let error = attempts.first?["error"] as? String ?? ""
            #expect(error.contains("redirect") && error.contains("\(target.url)/landing"), "\(error)")
            #expect((try stack.journal(id)["failure"] as? String ?? "").contains("horizon"))
        }
    }

    /// An evaluator that answers 200 and then streams 600 MiB: the answer counts at once, and
    /// the Finisher drops what follows instead of gathering it: its peak memory stays far below
    /// the body's size (measured by the kernel: the Finisher runs under a parent that reports
    /// its children's peak resident size).
    @Test func aHugeAnswerIsNotGathered() throws {
        let flood = try Peer("evaluator.py", ["--stream-bytes", "\(600 << 20)"])
        try withStack { stack in
            let id = try stack.submit(["task": "flooded", "nonce": "f", "evaluation_url": "\(flood.url)/notify"])
            let measure = "import resource, subprocess, sys; subprocess.run(sys.argv[1:]); "
                + "print('MAXRSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            let run = try ChildProcess(
                try #require(Paths.which("python3")), ["-c", measure, Paths.product("llm-deploy-finisher"), "drain"],
                environment: stack.environment, logPath: "\(stack.home)/log/measured-drain.log")
            #expect(run.waitForExit(timeout: 60) == 0, "\(run.log)")
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try Self.posts(flood, nonce: "f").count == 1)
            let line = try #require(run.log.split(separator: "\n").last { $0.hasPrefix("MAXRSS_KIB ") })
            let peak = try #require(Int(line.split(separator: " ")[1]))
            print("Finisher peak RSS with a 600 MiB answer: \(peak / 1024) MiB")
            #expect(peak < 200 * 1024, "the Finisher peaked at \(peak / 1024) MiB")
        }
    }

    /// 503 with `Retry-After: 3` is honoured: the resend waits 3 s, not the schedule's 1 s.
    @Test func anEvaluatorsRetryAfterIsHonoured() throws {
        let busy = try Peer("evaluator.py", ["--fail", "1", "--fail-status", "503", "--retry-after", "3"])
        try withStack { stack in
            let id = try stack.submit(["task": "busy", "nonce": "b", "evaluation_url": "\(busy.url)/notify"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let times = try Self.posts(busy, nonce: "b").compactMap { $0["t"] as? Double }
            #expect(times.count == 2)
            if times.count == 2 { #expect(times[1] - times[0] >= 2.9 && times[1] - times[0] < 6, "resent after \(times[1] - times[0]) s") }
        }
    }

    /// Loopback and metadata addresses are never POSTed to unless LLM_DEPLOY_NOTIFY_ALLOW names
    /// them: the task fails at once, saying what to set, and `retry` delivers once it is set.
    @Test func privateAndMetadataAddressesAreRefusedUnlessAllowed() throws {
        let evaluator = try Peer("evaluator.py")
        // The Handler's intake checks the same list (and refuses metadata addresses outright), so
        // the loopback task is allowed there and not at the Finisher, and the metadata one comes
        // in as an operator's drop-in, which no intake checks.
        try withStack(environment: ["LLM_DEPLOY_NOTIFY_ALLOW": "127.0.0.1"]) { stack in
            let loopback = try stack.submit(["task": "loopback", "nonce": "l", "evaluation_url": "\(evaluator.url)/notify"])
            var dropIn = stack.request(["task": "metadata", "nonce": "m", "evaluation_url": "http://169.254.169.254/latest/meta-data/", "secret": nil])
            dropIn["received_at"] = ISO8601DateFormatter().string(from: .now)
            try JSONSerialization.data(withJSONObject: dropIn).write(to: URL(fileURLWithPath: "\(stack.spool)/incoming/metadata.json"))
            let started = Date()
            let run = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_NOTIFY_ALLOW": ""])
            #expect(run.status == 0, "\(run.log)")
            #expect(Date().timeIntervalSince(started) < 20, "a refused address was retried or waited for")
            #expect(try evaluator.requests().isEmpty)
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(loopback)"))
            let failure = try stack.journal(loopback)["failure"] as? String ?? ""
            #expect(failure.contains("loopback") && failure.contains("LLM_DEPLOY_NOTIFY_ALLOW"), "\(failure)")
            #expect((try stack.journal(loopback)["notifications"] as? [[String: Any]])?.count == 1)
            // The metadata drop-in never becomes a task: the same rules as at intake refuse it.
            let rejection = (try? String(contentsOfFile: "\(stack.spool)/journal/metadata.json.rejected", encoding: .utf8)) ?? ""
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/metadata.json") && rejection.contains("169.254.169.254"), "\(rejection)")
            // The operator allows the loopback evaluator and retries: delivered.
            try stack.finisher(["retry", loopback])
            try stack.finisher(["drain"], environment: ["LLM_DEPLOY_NOTIFY_ALLOW": "127.0.0.1"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(loopback)"))
            #expect(try Self.posts(evaluator, nonce: "l").count == 1)
            // A bad allowlist stops the Finisher at start, naming the variable.
            let bad = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_NOTIFY_ALLOW": "http://x/"])
            #expect(bad.status == 78 && bad.log.contains("LLM_DEPLOY_NOTIFY_ALLOW"), "\(bad.log)")
        }
    }
}
