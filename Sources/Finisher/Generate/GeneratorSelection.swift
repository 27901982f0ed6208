import Fetch
import Foundation
import Logging
import Spool

/// Chooses the generator from the Finisher's configuration: the Chat Completions generator when
/// an LLM key is configured (`LLMSettings`), the offline template otherwise. The generator runs the
/// tool loop (falling back to a single answer where the server has no tool support);
/// `LLM_DEPLOY_FETCH_ALLOW` names the hosts its `fetch_url` may reach although they resolve to
/// private or loopback addresses.
enum GeneratorSelection {
    /// OpenAI's endpoint, used when `OPENAI_BASE_URL` is unset.
    static let defaultBaseURL = "https://api.openai.com/v1"
    /// The model used when `LLM_DEPLOY_MODEL` is unset.
    static let defaultModel = "gpt-4.1-mini"

    /// The generator the configuration asks for: Chat Completions with `configuration.llm`, or
    /// the offline template without it.
    static func make(configuration: FinisherConfiguration, logger: Logger, web: WebClient = WebClient()) -> any Generator {
        guard let llm = configuration.llm else {
            logger.notice("no OPENAI_API_KEY or OPENAI_API_KEY_FILE: generating with the offline template, without an LLM")
            return TemplateGenerator()
        }
        let allowlist = configuration.fetchAllowlist
        logger.info("generating with an LLM", metadata: [
            "base_url": "\(llm.baseURL)", "model": "\(llm.model)", "fetch_allow": .array(allowlist.entries.map { .string($0.description) }),
        ])
        return ChatCompletionsGenerator(
            baseURL: llm.baseURL, apiKey: llm.apiKey, model: llm.model, web: web, logger: logger,
            tools: ToolLoopSettings(allowlist: allowlist, contact: llm.contact))
    }

    /// The generator `environment` asks for (the Finisher's configuration read from it).
    /// - Throws: `ConfigurationError` naming the variable when a value cannot be used.
    static func make(environment: ServiceEnvironment, logger: Logger, web: WebClient = WebClient()) throws(ConfigurationError) -> any Generator {
        make(configuration: try FinisherConfiguration(environment: environment), logger: logger, web: web)
    }
}
