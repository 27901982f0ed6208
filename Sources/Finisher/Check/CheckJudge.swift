import Foundation
import Spool

/// Judges the checks that are prose ("Repo has MIT license", "README.md is professional",
/// "data.json has the key total") against the tree, as the evaluator's model does: one Chat
/// Completions call with the tree's text files and the checks, a strict JSON verdict per check
/// with its reason. A check the model gives no verdict on stays `needs_judgement`.
struct CheckJudge: Sendable {
    let model: String
    let client: ChatCompletionsClient
    /// The files shown: each cut to this many characters, all together at most `maximumTotal`.
    var maximumFileCharacters = 20_000
    var maximumTotal = 150_000

    /// `results` with every `needs_judgement` entry judged (passed or failed, reason prefixed
    /// "judged: "), or left as it was, with why, when the model could not answer in time.
    func judge(_ results: [CheckResult], tree: [String: Data], until deadline: Date) async -> [CheckResult] {
        let open = results.indices.filter { results[$0].status == .needsJudgement }
        guard !open.isEmpty else { return results }
        let request = ChatCompletionsRequest(
            model: model,
            messages: [.system(Self.instructions), .user(prompt(open.map { results[$0].check }, tree: tree))],
            responseFormat: Self.verdicts)
        var judged = results
        do {
            let response = try await client.complete(request, until: deadline, purpose: "judge")
            guard let content = response.choices.first?.message?.content,
                  let object = try? JSONSerialization.jsonObject(with: Data(Self.unfenced(content).utf8)) as? [String: Any],
                  let verdicts = object["verdicts"] as? [[String: Any]] else {
                throw ChatCompletionsError.malformedAnswer("no verdicts in the answer")
            }
            for verdict in verdicts {
                guard let number = verdict["check"] as? Int, (1...open.count).contains(number), let passed = verdict["passed"] as? Bool else { continue }
                let index = open[number - 1]
                judged[index].status = passed ? .passed : .failed
                judged[index].reason = "judged: " + String((verdict["reason"] as? String ?? "").prefix(300))
            }
        } catch {
            for index in open { judged[index].reason = "not judged: the model did not answer (\(String("\(error)".prefix(200))))" }
        }
        return judged
    }

    static let instructions = """
        You check a static website before it is published, as a strict grader will. For each numbered \
        check, decide from the repository's files alone whether it holds, and give a one-sentence reason \
        naming the file and what you saw. Judge exactly what the check says; when in doubt, it fails.
        """

    private func prompt(_ checks: [String], tree: [String: Data]) -> String {
        var text = "# Checks\n\n"
        for (number, check) in checks.enumerated() { text += "\(number + 1). \(check)\n" }
        text += "\n# The repository's files\n"
        var budget = maximumTotal
        for path in tree.keys.sorted() {
            let bytes = tree[path]!
            guard let content = String(data: bytes, encoding: .utf8), !content.contains("\u{0}") else {
                text += "\n## \(path)\n(binary, \(bytes.count) bytes)\n"
                continue
            }
            let shown = String(content.prefix(min(maximumFileCharacters, max(0, budget))))
            budget -= shown.count
            text += "\n## \(path)\n```\n\(shown)\n```\n"
            if shown.count < content.count { text += "(cut: \(content.count) characters in all)\n" }
        }
        return text
    }

    /// Some servers wrap JSON in a Markdown fence despite the schema.
    private static func unfenced(_ content: String) -> String {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("```") {
            text = text.drop { $0 != "\n" }.description
            if text.hasSuffix("```") { text = String(text.dropLast(3)) }
        }
        return text
    }

    /// `{"verdicts": [{"check": 1, "passed": true, "reason": "…"}]}`, strict.
    static let verdicts = ChatCompletionsRequest.ResponseFormat(jsonSchema: .init(
        name: "check_verdicts", strict: true,
        schema: .object([
            "type": .string("object"),
            "additionalProperties": .bool(false),
            "required": .array([.string("verdicts")]),
            "properties": .object([
                "verdicts": .object([
                    "type": .string("array"),
                    "items": .object([
                        "type": .string("object"),
                        "additionalProperties": .bool(false),
                        "required": .array([.string("check"), .string("passed"), .string("reason")]),
                        "properties": .object([
                            "check": .object(["type": .string("integer"), "description": .string("The check's number.")]),
                            "passed": .object(["type": .string("boolean")]),
                            "reason": .object(["type": .string("string"), "description": .string("One sentence: the file and what it shows.")]),
                        ]),
                    ]),
                ]),
            ]),
        ])))
}
