import Foundation
import Testing
import TestSupport

/// A repository belongs to exactly one (sender, task): two senders' tasks of the same name never
/// share one, and a repository that holds someone else's commits is never built on or pushed into.
@Suite(.serialized) struct TenantIsolationTests {
    static func notification(_ evaluator: Peer, nonce: String) throws -> [String: Any]? {
        try evaluator.requests().compactMap { $0["json"] as? [String: Any] }.first { $0["nonce"] as? String == nonce }
    }

    /// A stack whose `LLM_DEPLOY_SECRETS_FILE` lets two senders in.
    static func withTwoSenders(_ body: (LocalStack, [String: String]) throws -> Void) throws {
        let directory = Paths.temporaryDirectory("senders")
        let secrets = ["alice@example.com": "alice-\(UUID().uuidString)", "mallory@example.org": "mallory-\(UUID().uuidString)"]
        try JSONSerialization.data(withJSONObject: secrets).write(to: URL(fileURLWithPath: "\(directory)/secrets.json"))
        try withStack(environment: ["LLM_DEPLOY_SECRETS_FILE": "\(directory)/secrets.json"]) { try body($0, secrets) }
    }

    @Test func twoSendersTasksOfTheSameNameLandInTheirOwnRepositories() throws {
        let evaluator = try Peer("evaluator.py")
        try Self.withTwoSenders { stack, secrets in
            let url = "\(evaluator.url)/notify"
            func submit(_ email: String, _ task: String, _ nonce: String, round: Int = 1, brief: String) throws {
                _ = try stack.submit(["email": email, "secret": secrets[email]!, "task": task, "nonce": nonce, "round": round,
                                      "brief": brief, "evaluation_url": url])
            }
            try submit("alice@example.com", "weather-app", "a1", brief: "Alice's forecast page.")
            try stack.finisher(["drain"])
            try submit("mallory@example.org", "weather-app", "m1", brief: "Defaced by Mallory.")
            try submit("mallory@example.org", "Weather-App", "m2", brief: "Defaced again.")
            try stack.finisher(["drain"])
            try submit("alice@example.com", "weather-app", "a2", round: 2, brief: "Add a footer.")
            try stack.finisher(["drain"])

            let alice1 = try #require(try Self.notification(evaluator, nonce: "a1"))
            let mallory1 = try #require(try Self.notification(evaluator, nonce: "m1"))
            let mallory2 = try #require(try Self.notification(evaluator, nonce: "m2"))
            let alice2 = try #require(try Self.notification(evaluator, nonce: "a2"))
            let repos = [alice1, mallory1, mallory2].compactMap { $0["repo_url"] as? String }
            #expect(Set(repos.map { $0.lowercased() }).count == 3, "\(repos)")
            let aliceRepo = try #require(alice1["repo_url"] as? String)
            #expect(aliceRepo.contains("/git/alice-weather-app-") && aliceRepo == aliceRepo.lowercased())
            // Round 2 continues Alice's own repository on top of her round 1, and only hers.
            #expect(alice2["repo_url"] as? String == aliceRepo)
            let name = String(aliceRepo.split(separator: "/").last!.dropLast(4))
            let bare = "\(stack.home)/data/git/\(name).git"
            #expect(try stack.git(["rev-parse", "\((alice2["commit_sha"] as? String) ?? "")^"], in: bare) == alice1["commit_sha"] as? String)
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/\(name)/")
            #expect(page.text.contains("Add a footer.") && !page.text.contains("Defaced"))
            // Each commit names its owner (a digest, not the address).
            let log = try stack.git(["log", "--format=%B", "main"], in: bare)
            #expect(log.contains("Llm-Deploy-Owner: ") && !log.contains("alice@example.com"))
        }
    }

    /// With one shared secret the name comes from the task alone, so another address sending
    /// the same task name reaches the same repository: the forge sees the owner trailer is not
    /// its own and refuses, permanently and visibly, without touching the first one's site.
    @Test func aRepositoryWithAnotherOwnersCommitsIsNeverAdopted() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let url = "\(evaluator.url)/notify"
            _ = try stack.submit(["task": "shared-name", "nonce": "first", "brief": "The first owner's page.", "evaluation_url": url])
            try stack.finisher(["drain"])
            let bare = "\(stack.home)/data/git/shared-name.git"
            #expect(try stack.git(["rev-list", "--count", "main"], in: bare) == "1")
            let intruder = try stack.submit(["email": "other@example.net", "task": "shared-name", "nonce": "second",
                                             "brief": "Somebody else's page.", "evaluation_url": url])
            let round2 = try stack.submit(["email": "other@example.net", "task": "shared-name", "round": 2, "nonce": "third",
                                           "brief": "Built on the first owner's files.", "evaluation_url": url])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(intruder)"))
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(round2)"))
            #expect(try stack.git(["rev-list", "--count", "main"], in: bare) == "1")
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/shared-name/")
            #expect(page.text.contains("The first owner&#39;s page.") || page.text.contains("The first owner's page."))
            #expect(!page.text.contains("Somebody else"))
            #expect(try Self.notification(evaluator, nonce: "second") == nil)
            // The operator and the sender see why.
            let rows = try JSONSerialization.jsonObject(with: Data(try stack.finisher(["status", "--json"]).log.utf8)) as? [[String: Any]] ?? []
            for id in [intruder, round2] {
                let row = try #require(rows.first { $0["id"] as? String == id })
                let reason = row["last_error"] as? String ?? ""
                #expect(row["state"] as? String == "failed" && reason.contains("another sender or task"), "\(reason)")
            }
            // Round 2 of the intruder did not even read the first owner's files.
            let attempts = try stack.journal(round2)["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.last?["stage"] as? String == "prepare", "\(attempts)")
        }
    }
}
