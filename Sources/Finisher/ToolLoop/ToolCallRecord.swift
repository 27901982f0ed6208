import Foundation
import Spool

/// A tool call as the journal keeps it; the generator records its calls in this form.
typealias ToolCallRecord = TaskJournal.ToolCall

/// Redaction: what of a call's arguments and results may be logged and journaled.
extension ToolCallRecord {
    /// Names of arguments or query parameters whose values are never kept.
    static let secretNames = ["key", "token", "secret", "password", "passwd", "pwd", "auth", "signature", "sig", "session", "credential", "cookie"]

    /// `arguments` (the model's JSON text) as it may be logged and journaled: `content` replaced
    /// by its size, URLs without user info and with secret-named query values masked, values of
    /// secret-named arguments masked, long strings cut, credential formats and `secrets` masked.
    static func redacted(_ arguments: String, secrets: [String] = []) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [String: Any] else {
            return "<\(arguments.utf8.count) bytes that are not a JSON object>"
        }
        var kept: [String: Any] = [:]
        for (key, value) in object {
            let lowered = key.lowercased()
            if lowered == "content", let text = value as? String {
                kept[key] = "<\(text.utf8.count) bytes>"
            } else if secretNames.contains(where: { lowered.contains($0) }) {
                kept[key] = "[redacted]"
            } else if let text = value as? String {
                let cleaned = lowered == "url" ? redactedURL(text) : text
                kept[key] = cleaned.count > 200 ? String(cleaned.prefix(200)) + "…" : cleaned
            } else if value is NSNumber || value is NSNull {
                kept[key] = value
            } else if let numbers = value as? [NSNumber] {
                kept[key] = Array(numbers.prefix(20))
            } else {
                kept[key] = "<\(type(of: value))>"
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var text = masked(String(decoding: data, as: UTF8.self), secrets: secrets)
        if text.count > 500 { text = String(text.prefix(500)) + "…" }
        return text
    }

    /// `text` with credential formats and each of `secrets` (8 characters or more) masked.
    static func masked(_ text: String, secrets: [String] = []) -> String {
        var text = text
        for secret in secrets where secret.count >= 8 {
            text = text.replacingOccurrences(of: secret, with: "[redacted]")
        }
        for pattern in CredentialPattern.all + [CredentialPattern.bearer] {
            text = pattern.expression.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "[redacted]")
        }
        return text
    }

    /// A URL without user info, its secret-named query values masked.
    static func redactedURL(_ text: String) -> String {
        guard var components = URLComponents(string: text) else { return text }
        if components.user != nil || components.password != nil {
            components.user = nil
            components.password = nil
        }
        components.queryItems = components.queryItems?.map { item in
            let lowered = item.name.lowercased()
            return secretNames.contains(where: { lowered.contains($0) }) ? URLQueryItem(name: item.name, value: "redacted") : item
        }
        return components.string ?? text
    }
}

