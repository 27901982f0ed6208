import Foundation
import Spool

/// The LLM endpoint the Finisher generates with: `OPENAI_API_KEY` (or `OPENAI_API_KEY_FILE`),
/// `OPENAI_BASE_URL` (default `https://api.openai.com/v1`), `LLM_DEPLOY_MODEL` (default
/// `gpt-4.1-mini`) and `LLM_DEPLOY_CONTACT` (who to reach about `fetch_url`'s requests). A local
/// server that needs no key (Ollama, llama.cpp) still needs some key set, e.g.
/// `OPENAI_API_KEY=local`.
struct LLMSettings: Sendable {
    var baseURL: String
    /// Sent as a bearer token, never logged.
    var apiKey: String
    var model: String
    var contact: String?

    /// The settings, or `nil` when no key is configured (the offline template is used).
    /// - Throws: `ConfigurationError` naming the variable whose value cannot be used.
    static func read(from environment: ServiceEnvironment) throws(ConfigurationError) -> LLMSettings? {
        guard let key = try environment.secret("OPENAI_API_KEY") else { return nil }
        guard !key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ConfigurationError(
                variable: environment["OPENAI_API_KEY_FILE"] == nil ? "OPENAI_API_KEY" : "OPENAI_API_KEY_FILE",
                reason: "holds a key with spaces, line breaks or control characters; set the key alone")
        }
        let base = environment["OPENAI_BASE_URL"] ?? GeneratorSelection.defaultBaseURL
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil else {
            throw ConfigurationError(
                variable: "OPENAI_BASE_URL", reason: "must be an http(s) URL such as https://api.openai.com/v1, not \(base)")
        }
        guard url.user == nil && url.password == nil else {
            throw ConfigurationError(
                variable: "OPENAI_BASE_URL", reason: "must not carry credentials; put the key in OPENAI_API_KEY or OPENAI_API_KEY_FILE")
        }
        let model = environment["LLM_DEPLOY_MODEL"] ?? GeneratorSelection.defaultModel
        guard !model.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw ConfigurationError(variable: "LLM_DEPLOY_MODEL", reason: "must be a model name without spaces, such as gpt-4.1-mini, not \(model.debugDescription)")
        }
        let contact = environment["LLM_DEPLOY_CONTACT"]?.trimmingCharacters(in: .whitespaces)
        if let contact, contact.isEmpty || contact.count > 200 || contact.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0.value > 0x7E }) {
            throw ConfigurationError(
                variable: "LLM_DEPLOY_CONTACT",
                reason: "must be an e-mail address or URL in printable ASCII of at most 200 characters, e.g. ops@example.com")
        }
        return LLMSettings(baseURL: base, apiKey: key, model: model, contact: contact)
    }
}
