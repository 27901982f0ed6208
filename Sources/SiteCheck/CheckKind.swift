import Foundation

/// How a check of the brief is decided: run in the page, or judged by reading the tree.
public enum CheckKind: Sendable, Equatable {
    /// A JavaScript expression. `explicit` when written `js: …`; otherwise it only looks like
    /// one, and if it does not parse it is handed to judgement rather than called an error.
    case javascript(expression: String, explicit: Bool)
    /// Prose ("Repo has MIT license", "README.md is professional").
    case judgement

    /// Tokens no prose check uses but page checks always do.
    private static let markers = [
        "document.", "window.", "querySelector", "getElementById", "getElementsBy", "localStorage", "sessionStorage",
        "fetch(", "=>", "===", "!==", "!!", ".textContent", ".innerText", ".innerHTML", "navigator.", "location.",
    ]

    public init(_ check: String) {
        var text = check.trimmingCharacters(in: .whitespacesAndNewlines)
        // `js: …` as the course writes it; also seen wrapped in backticks.
        if text.count >= 2, text.hasPrefix("`"), text.hasSuffix("`") { text = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces) }
        if text.lowercased().hasPrefix("js:") {
            self = .javascript(expression: Self.trimmed(String(text.dropFirst(3))), explicit: true)
        } else if Self.markers.contains(where: text.contains) {
            self = .javascript(expression: Self.trimmed(text), explicit: false)
        } else {
            self = .judgement
        }
    }

    /// Without surrounding space, backticks and trailing semicolons, which cannot sit in the
    /// parentheses the expression is evaluated in.
    private static func trimmed(_ expression: String) -> String {
        var text = expression.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count >= 2, text.hasPrefix("`"), text.hasSuffix("`") { text = String(text.dropFirst().dropLast()) }
        while text.hasSuffix(";") { text = String(text.dropLast()).trimmingCharacters(in: .whitespacesAndNewlines) }
        return text
    }
}
