import Foundation
import Spool
import Testing
@testable import Finisher

/// The naming rule and the ownership proof, as pure functions (the real forge's refusal is in
/// the integration tests).
struct RepositoryNameTests {
    @Test func aCleanLowerCaseTaskKeepsItsNameWithOneSender() {
        #expect(RepositoryName.make(task: "weather-app", sender: nil) == "weather-app")
        #expect(RepositoryName.make(task: "captcha-solver-3f2a1", sender: nil) == "captcha-solver-3f2a1")
    }

    @Test func namesThatOnlyCleanUpAlikeNeverMeet() {
        let tidied = RepositoryName.make(task: "Alice's app!", sender: nil)
        #expect(tidied.hasPrefix("alice-s-app-") && RepositoryName.looksDigested(tidied))
        // The task named exactly like the tidied name is digested too, so it cannot take it.
        #expect(RepositoryName.make(task: tidied, sender: nil) != tidied)
        // GitHub compares names without case: case-only differences get different digests.
        let names = ["Weather", "weather", "WEATHER", "weather!"].map { RepositoryName.make(task: $0, sender: nil) }
        #expect(Set(names.map { $0.lowercased() }).count == 4, "\(names)")
        #expect(names.allSatisfy { $0 == $0.lowercased() })
    }

    @Test func severalSendersAlwaysGetTheirOwnReadableName() {
        let alice = RepositoryName.make(task: "weather-app", sender: "Alice@example.com")
        let mallory = RepositoryName.make(task: "weather-app", sender: "mallory@example.org")
        let otherAlice = RepositoryName.make(task: "weather-app", sender: "alice@example.org")
        #expect(alice.hasPrefix("alice-weather-app-") && mallory.hasPrefix("mallory-weather-app-"))
        #expect(Set([alice, mallory, otherAlice]).count == 3)
        #expect(RepositoryName.make(task: "weather-app", sender: "Alice@example.com") == alice)
    }

    @Test func everyNameIsValidOnGitHub() {
        for task in ["", "...", "-x-", String(repeating: "a", count: 300), "app.git", "日本語", "a\u{0}b", "../../etc"] {
            for sender in [nil, "a@b.c", "\u{202e}evil@x.y"] as [String?] {
                let name = RepositoryName.make(task: task, sender: sender)
                #expect(!name.isEmpty && name.count <= 100, "\(name)")
                #expect(name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "._-".contains($0) }, "\(name)")
                #expect(!name.hasSuffix(".git") && !name.hasPrefix(".") && !name.hasPrefix("-"), "\(name)")
            }
        }
    }

    @Test func aClaimOwnsOnlyItsOwnersCommits() {
        let owner = RepositoryOwner(email: "alice@example.com", task: "weather-app")
        let earlier = TaskID(email: "alice@example.com", task: "weather-app", round: 1, nonce: "n")
        let claim = RepositoryClaim(name: "weather-app", owner: owner, earlierRounds: [earlier])
        #expect(claim.owns(ownerKeys: [owner.key], taskIDs: ["ignored"]))
        #expect(!claim.owns(ownerKeys: [RepositoryOwner(email: "mallory@example.org", task: "weather-app").key], taskIDs: []))
        #expect(!claim.owns(ownerKeys: [RepositoryOwner(email: "alice@example.com", task: "Weather-App").key], taskIDs: []))
        // Older commits carry only the task trailer: one of the owner's own rounds, or nobody's.
        #expect(claim.owns(ownerKeys: [], taskIDs: [earlier.rawValue]))
        #expect(!claim.owns(ownerKeys: [], taskIDs: [TaskID(email: "m@x.y", task: "weather-app", round: 1, nonce: "n").rawValue]))
        #expect(!claim.owns(ownerKeys: [], taskIDs: []))
    }
}
