import Foundation
import Testing
@testable import Finisher

/// The secret gate's rules, each with samples it must catch and look-alikes it must pass.
@Suite struct SecretScannerTests {
    let scanner = SecretScanner(configuredSecrets: ["request-secret-123", "short"])

    func rules(in text: String, file: String = "app.js") -> [String] {
        scanner.scan([file: Data(text.utf8)]).map(\.rule)
    }

    /// Built at run time so this file does not itself carry live-looking credentials.
    static func repeated(_ prefix: String, _ character: Character, _ count: Int) -> String {
        prefix + String(repeating: character, count: count)
    }

    static let positives: [(String, String)] = [
        ("github-token", "const t = '" + repeated("ghp_", "A", 36) + "';"),
        ("github-token", repeated("ghs_", "b", 40)),
        ("github-fine-grained-token", repeated("github_pat_", "C", 30)),
        ("openai-api-key", "OPENAI=" + repeated("sk-proj-", "x", 40)),
        ("openai-api-key", repeated("sk-", "Z", 48)),
        ("aws-access-key-id", "key: AKIA" + "IOSFODNN7EXAMPLQ"),
        ("slack-token", repeated("xoxb-", "1", 24)),
        ("google-api-key", repeated("AIza", "k", 35)),
        ("private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"),
        ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
        ("jwt", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
        ("high-entropy-assignment", "const apiKey = \"q8Zr4LmN2vXp7TbK9sWd3Hf6\";"),
        ("configured-secret", "secret: request-secret-123"),
        ("configured-secret", "b64: " + Data("request-secret-123".utf8).base64EncodedString()),
    ]

    @Test(arguments: positives.indices)
    func catches(_ index: Int) {
        let (rule, text) = Self.positives[index]
        #expect(rules(in: text).contains(rule), "\(rule) missed")
    }

    /// What the gate finds by format, the journal's tool-call records mask: one list serves both.
    @Test(arguments: positives.indices)
    func recordsMaskWhatTheGateFinds(_ index: Int) {
        let (rule, text) = Self.positives[index]
        guard CredentialPattern.all.contains(where: { $0.name == rule }) else { return }
        let masked = ToolCallRecord.masked(text)
        #expect(masked.contains("[redacted]") && !rules(in: masked).contains(rule), "\(rule) left in \(masked)")
    }

    /// Ordinary web code: SRI hashes, UUIDs, CDN URLs, base64 images, task names, short words.
    static let negatives: [String] = [
        #"<script src="https://cdn.jsdelivr.net/npm/chart.js@4.4.0/dist/chart.umd.min.js" integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC" crossorigin="anonymous"></script>"#,
        "const id = '3f2a1c9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c';",
        "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
        "const task = 'task-list-manager'; // ask-user, disk-usage",
        "const token = document.querySelector('#token').value;",
        "password: \"\" // filled in by the user",
        "let secret = 'short';",
        "fetch('https://api.github.com/repos/octo/app')",
        "background: linear-gradient(#AKIAFFFF, #000);",
    ]

    @Test(arguments: negatives.indices)
    func passesOrdinaryCode(_ index: Int) {
        #expect(rules(in: Self.negatives[index]).isEmpty, "\(Self.negatives[index])")
    }

    @Test func findingsNameFileLineAndRuleButNeverTheSecret() throws {
        let token = Self.repeated("ghp_", "Q", 36)
        let findings = scanner.scan(["src/a.js": Data("one\ntwo\nconst t = '\(token)'\n".utf8)])
        let finding = try #require(findings.first)
        #expect(finding.description == "src/a.js:3: github-token")
        #expect(!finding.description.contains(token))
    }

    @Test func shortConfiguredSecretsAreNotSearched() {
        // "short" is configured but too short to search for without false alarms.
        #expect(rules(in: "a short note").isEmpty)
    }
}
