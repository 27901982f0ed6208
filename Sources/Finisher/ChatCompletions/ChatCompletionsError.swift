import Foundation

/// Why a Chat Completions exchange gave no usable answer. Each case says what an operator can
/// do about it. Messages quote the server's error text (with the API key masked) but never our
/// request, headers or key.
enum ChatCompletionsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The provider refused the key (401/403).
    case unauthorized(status: Int, message: String)
    /// The account has no quota left (429 `insufficient_quota`): waiting will not help.
    case quotaExhausted(message: String)
    /// The URL or the model does not exist (404).
    case notFound(url: String, message: String)
    /// The server rejected the request as invalid (other 4xx); `param` names the field at fault.
    case rejected(status: Int, param: String?, message: String)
    /// Rate limits, 5xx answers, timeouts or network errors went on past the time we had.
    case outOfTime(attempts: Int, last: String)
    /// A 200 whose body is not a Chat Completions answer.
    case malformedAnswer(String)
    /// The endpoint does not support a feature the caller cannot do without (tools).
    case unsupported(feature: EndpointCapabilities.Feature, message: String)

    /// What went wrong and what to do about it.
    var description: String {
        switch self {
        case .unauthorized(let status, let message):
            "the LLM provider refused the API key (HTTP \(status): \(message)); check OPENAI_API_KEY or OPENAI_API_KEY_FILE"
        case .quotaExhausted(let message):
            "the LLM account has no quota left (\(message)); add credit or configure another OPENAI_API_KEY"
        case .notFound(let url, let message):
            "the LLM endpoint \(url) answered 404 (\(message)); check OPENAI_BASE_URL (it usually ends in /v1) and LLM_DEPLOY_MODEL"
        case .rejected(let status, let param, let message):
            "the LLM endpoint rejected the request with HTTP \(status)\(param.map { " (parameter \($0))" } ?? ""): \(message); "
                + "check that LLM_DEPLOY_MODEL supports chat completions"
        case .outOfTime(let attempts, let last):
            "no answer from the LLM within the generation budget after \(attempts) attempt\(attempts == 1 ? "" : "s") (last: \(last)); "
                + "the provider is slow or overloaded: retry later or raise LLM_DEPLOY_DEADLINE"
        case .unsupported(let feature, let message):
            "the LLM endpoint does not support \(feature.rawValue) (\(message)); the generator uses what it supports"
        case .malformedAnswer(let detail):
            "the LLM endpoint answered 200 with something that is not a chat completion (\(detail)); check OPENAI_BASE_URL"
        }
    }

    /// Whether trying the whole task again later could succeed.
    var isTransient: Bool {
        switch self {
        case .outOfTime, .malformedAnswer: true
        case .unauthorized, .quotaExhausted, .notFound, .rejected, .unsupported: false
        }
    }
}
