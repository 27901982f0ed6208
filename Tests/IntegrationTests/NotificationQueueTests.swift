import Foundation
import Testing
import TestSupport

/// Notifications are a queue of their own (notify/), served apart from the generation slots:
/// evaluators that are down or slow cannot hold a slot or push other tasks past their deadline.
@Suite(.serialized) struct NotificationQueueTests {
    static func received(_ evaluator: Peer) throws -> [(nonce: String, at: Double)] {
        try evaluator.requests().compactMap { record in
            guard let nonce = (record["json"] as? [String: Any])?["nonce"] as? String, let at = record["t"] as? Double else { return nil }
            return (nonce, at)
        }
    }

    /// Ten tasks whose evaluators are down (nothing listens) or answer only after 40 s, then five
    /// ordinary tasks, with the Handler waking Finishers and the default two slots. The five are
    /// notified within a minute of their request (the deadline is ten), while the ten go on
    /// being resent until the horizon fails them, each failure visible in `status`.
    @Test func deadAndSlowEvaluatorsDoNotDelayOtherTasks() throws {
        let slow = try Peer("evaluator.py", ["--delay", "40"])
        let good = try Peer("evaluator.py")
        let dead = "http://127.0.0.1:\(HTTPClient.freePort())/notify"
        let environment = [
            "LLM_DEPLOY_WAKE": "\(Paths.product("llm-deploy-finisher")) drain",
            // Documented knobs, shrunk so the test's own wall time stays short.
            "LLM_DEPLOY_NOTIFY_TIMEOUT": "5", "LLM_DEPLOY_NOTIFY_HORIZON": "40",
        ]
        try withStack(environment: environment) { stack in
            let stuck = try (0..<10).map { index in
                try stack.submit(["task": "stuck-\(index)", "nonce": "stuck-\(index)",
                                  "evaluation_url": index % 2 == 0 ? dead : "\(slow.url)/notify"])
            }
            var sent: [String: Double] = [:]
            for index in 0..<5 {
                sent["ok-\(index)"] = Date().timeIntervalSince1970
                _ = try stack.submit(["task": "ordinary-\(index)", "nonce": "ok-\(index)", "evaluation_url": "\(good.url)/notify"])
            }
            var notified: [(nonce: String, at: Double)] = []
            #expect(eventually(timeout: 120) {
                notified = (try? Self.received(good)) ?? []
                return Set(notified.map(\.nonce)).count == 5
            }, "notified: \(notified.map(\.nonce)); status: \((try? stack.finisher(["status"]).log) ?? "")")
            print("ordinary tasks notified after (s):", notified.map { Int(($0.at - (sent[$0.nonce] ?? 0)).rounded()) })
            for (nonce, at) in notified {
                let waited = at - (sent[nonce] ?? 0)
                #expect(waited < 60, "\(nonce) was notified \(Int(waited)) s after its request")
            }

            // The ten are resent meanwhile, then fail at the horizon with the reason in status.
            #expect(eventually(timeout: 90) { stuck.allSatisfy { FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\($0)") } })
            let rows = try JSONSerialization.jsonObject(with: Data(try stack.finisher(["status", "--json"]).log.utf8)) as? [[String: Any]] ?? []
            for id in stuck {
                let row = try #require(rows.first { $0["id"] as? String == id })
                #expect((row["last_error"] as? String ?? "").contains("notify horizon"), "\(row)")
                let attempts = try stack.journal(id)["notifications"] as? [[String: Any]] ?? []
                #expect(attempts.count >= 2, "\(id): \(attempts.count) attempts")
            }
            #expect(try Self.received(slow).count >= 10)
            #expect(eventually { (try? FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/notify"))?.isEmpty == true })
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/done").count == 5)
        }
    }
}
