import Foundation

/// One credential found in a file. It names where and which rule, never the value.
struct SecretFinding: Sendable, Equatable, CustomStringConvertible {
    var file: String
    var line: Int
    var rule: String
    var description: String { "\(file):\(line): \(rule)" }
}

/// The gate before every push (docs/architecture.md, Security model): token formats, private keys, JWTs, high-entropy
/// values assigned to secret-like names, and the configured secrets themselves (verbatim and
/// base64). A finding blocks the push; it is never merely logged.
struct SecretScanner: Sendable {
    /// The service's own secrets (request secret, tokens, API keys).
    let configuredSecrets: [String]

    /// `name = "value"` where the name sounds secret and the value looks random.
    private static let assignment = try! NSRegularExpression(
        pattern: #"(?i)(?:api[_-]?key|secret|token|passw(?:or)?d|auth[_-]?key|access[_-]?key)[A-Za-z0-9_-]*["']?\s*[:=]\s*["']([A-Za-z0-9_\-+/=.]{20,})["']"#)

    func scan(_ files: [String: Data]) -> [SecretFinding] {
        var findings: [SecretFinding] = []
        let needles = configuredSecrets.filter { $0.utf8.count >= 8 }.flatMap { secret in
            [secret, Data(secret.utf8).base64EncodedString(), Data(secret.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")]
        }
        for path in files.keys.sorted() {
            let text = String(decoding: files[path]!, as: UTF8.self)
            let whole = NSRange(text.startIndex..., in: text)
            for pattern in CredentialPattern.all {
                for match in pattern.expression.matches(in: text, range: whole) {
                    findings.append(SecretFinding(file: path, line: Self.line(of: match.range, in: text), rule: pattern.name))
                }
            }
            for match in Self.assignment.matches(in: text, range: whole) {
                guard let range = Range(match.range(at: 1), in: text), Self.entropy(text[range]) >= 4.0 else { continue }
                findings.append(SecretFinding(file: path, line: Self.line(of: match.range, in: text), rule: "high-entropy-assignment"))
            }
            for needle in needles {
                var searchRange = text.startIndex..<text.endIndex
                while let found = text.range(of: needle, range: searchRange) {
                    findings.append(SecretFinding(file: path, line: Self.line(of: NSRange(found, in: text), in: text), rule: "configured-secret"))
                    searchRange = found.upperBound..<text.endIndex
                }
            }
        }
        return findings
    }

    static func line(of range: NSRange, in text: String) -> Int {
        let prefix = (text as NSString).substring(to: range.location)
        return prefix.reduce(1) { $0 + ($1 == "\n" ? 1 : 0) }
    }

    /// Shannon entropy in bits per character.
    static func entropy(_ text: Substring) -> Double {
        var counts: [Character: Int] = [:]
        for character in text { counts[character, default: 0] += 1 }
        let total = Double(text.count)
        return counts.values.reduce(0) { sum, count in
            let p = Double(count) / total
            return sum - p * log2(p)
        }
    }
}
