import Fetch
import Foundation
import Logging
import Spool

/// Chooses the generator from the environment (README, Configuration): the Chat Completions generator
/// when an API key is configured, the offline template otherwise.
///
/// Reads `OPENAI_API_KEY` or `OPENAI_API_KEY_FILE`, `OPENAI_BASE_URL` (default
/// `https://api.openai.com/v1`) and `LLM_DEPLOY_MODEL` (default `gpt-4.1-mini`). A local server
/// that needs no key (Ollama, llama.cpp) still needs some key set, e.g. `OPENAI_API_KEY=local`.
/// The generator runs the tool loop (falling back to a single answer where the server has no
/// tool support); `LLM_DEPLOY_FETCH_ALLOW` names the hosts its `fetch_url` may reach although
/// they resolve to private or loopback addresses, and `LLM_DEPLOY_CONTACT` (an e-mail address
/// or URL) goes into `fetch_url`'s User-Agent, as APIs such as SEC EDGAR require.
enum GeneratorSelection {
    /// OpenAI's endpoint, used when `OPENAI_BASE_URL` is unset.
    static let defaultBaseURL = "https://api.openai.com/v1"
    /// The model used when `LLM_DEPLOY_MODEL` is unset.
    static let defaultModel = "gpt-4.1-mini"

    /// The generator the environment asks for.
    /// - Throws: `ConfigurationError` naming the variable when a value cannot be used.
    static func make(environment: ServiceEnvironment, logger: Logger, web: WebClient = WebClient()) throws(ConfigurationError) -> any Generator {
        guard let key = try environment.secret("OPENAI_API_KEY") else {
            logger.notice("no OPENAI_API_KEY or OPENAI_API_KEY_FILE: generating with the offline template, without an LLM")
            return TemplateGenerator()
        }
        guard !key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ConfigurationError(
                variable: environment["OPENAI_API_KEY_FILE"] == nil ? "OPENAI_API_KEY" : "OPENAI_API_KEY_FILE",
                reason: "holds a key with spaces, line breaks or control characters; set the key alone")
        }
        let base = environment["OPENAI_BASE_URL"] ?? defaultBaseURL
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil else {
            throw ConfigurationError(
                variable: "OPENAI_BASE_URL", reason: "must be an http(s) URL such as https://api.openai.com/v1, not \(base)")
        }
        guard url.user == nil && url.password == nil else {
            throw ConfigurationError(
                variable: "OPENAI_BASE_URL", reason: "must not carry credentials; put the key in OPENAI_API_KEY or OPENAI_API_KEY_FILE")
        }
        let model = environment["LLM_DEPLOY_MODEL"] ?? defaultModel
        guard !model.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw ConfigurationError(variable: "LLM_DEPLOY_MODEL", reason: "must be a model name without spaces, such as gpt-4.1-mini, not \(model.debugDescription)")
        }
        let allowlist = try FetchAllowlist(parsing: environment["LLM_DEPLOY_FETCH_ALLOW"])
        let contact = environment["LLM_DEPLOY_CONTACT"]?.trimmingCharacters(in: .whitespaces)
        if let contact, contact.isEmpty || contact.count > 200 || contact.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0.value > 0x7E }) {
            throw ConfigurationError(
                variable: "LLM_DEPLOY_CONTACT",
                reason: "must be an e-mail address or URL in printable ASCII of at most 200 characters, e.g. ops@example.com")
        }
        logger.info("generating with an LLM", metadata: [
            "base_url": "\(base)", "model": "\(model)", "fetch_allow": .array(allowlist.entries.map { .string($0.description) }),
        ])
        return ChatCompletionsGenerator(
            baseURL: base, apiKey: key, model: model, web: web, logger: logger, tools: ToolLoopSettings(allowlist: allowlist, contact: contact))
    }
}
