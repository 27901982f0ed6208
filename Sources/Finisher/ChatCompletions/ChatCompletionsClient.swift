import Fetch
import Foundation
import Logging

/// One Chat Completions exchange with an OpenAI-compatible server, retried on 408, 409, 429 and
/// 5xx answers, timeouts and network errors (honouring `Retry-After` / `retry-after-ms`) for as
/// long as the caller's deadline allows. An error (4xx or 5xx) that names a feature of the
/// request (`response_format`, `json_schema`, tools, images, `max_tokens`) is not retried: the
/// feature is stepped down at once and remembered for the process (`CapabilityMemory`). Token usage is logged; the API key goes into the
/// `Authorization` header and nowhere else, and is masked in any server text we repeat.
struct ChatCompletionsClient: Sendable {
    /// `{OPENAI_BASE_URL}/chat/completions`.
    let endpoint: String
    /// Sent as `Authorization: Bearer …`; never logged.
    let apiKey: String
    /// The HTTP client (timeouts and a response-size limit on every call).
    let web: WebClient
    /// Where usage and retries are logged (the generator adds the task's id).
    var logger: Logger
    /// The longest one exchange may take (a long answer from a slow model takes minutes).
    var requestTimeout: TimeInterval = 240
    /// No retry is started with less than this left before the deadline.
    var minimumAttemptTime: TimeInterval = 10
    /// The first back-off when the server gives no `Retry-After` (then doubled, capped at 30 s).
    var backoffBase: TimeInterval = 1
    /// At most this many exchanges per call.
    var maximumAttempts = 8
    /// The largest answer accepted.
    var maximumResponseBytes = 16 << 20
    /// The most tokens one answer may take (sent as `max_tokens` where the server takes it):
    /// enough for a complete small site, not a whole budget of rambling.
    var maximumOutputTokens = 16_384
    /// What each endpoint has refused so far in this process.
    var capabilities = CapabilityMemory.shared

    /// What this endpoint is known to accept for `model`.
    func known(model: String) -> EndpointCapabilities {
        capabilities.capabilities(endpoint: endpoint, model: model)
    }

    /// The endpoint for a base URL such as `https://api.openai.com/v1` (trailing slashes ignored).
    static func endpoint(forBaseURL base: String) -> String {
        var trimmed = Substring(base)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return trimmed + "/chat/completions"
    }

    /// Sends `request` until a server answers it or `deadline` is too close to try again.
    /// - Parameter purpose: logged with the usage (`generate`, `repair`).
    func complete(
        _ request: ChatCompletionsRequest, until deadline: Date, purpose: String
    ) async throws(ChatCompletionsError) -> ChatCompletionsResponse {
        var request = request
        if request.maxTokens == nil && request.maxCompletionTokens == nil { request.maxTokens = maximumOutputTokens }
        if request.tools != nil && !known(model: request.model).tools {
            throw .unsupported(feature: .tools, message: "the endpoint refused tools earlier in this process")
        }
        var sent = request.adapted(to: known(model: request.model))
        var body = sent.encoded()
        let headers = [
            "Authorization": "Bearer \(apiKey)",
            "Content-Type": "application/json",
            "Accept": "application/json",
        ]
        var attempt = 0
        var last = "no attempt was made"
        while true {
            attempt += 1
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0.05, attempt == 1 || remaining >= minimumAttemptTime else {
                logger.warning("chat completion failed; no time left to retry", metadata: [
                    "purpose": "\(purpose)", "attempt": .stringConvertible(attempt - 1), "error": "\(last)",
                    "seconds_left": .stringConvertible(Self.rounded(remaining)),
                ])
                throw .outOfTime(attempts: attempt - 1, last: last)
            }
            let started = Date()
            var retryAfter: TimeInterval?
            do {
                let response = try await web.send(
                    "POST", endpoint, headers: headers, body: body,
                    timeout: min(requestTimeout, remaining), maximumBytes: maximumResponseBytes)
                let seconds = Date().timeIntervalSince(started)
                if (200..<300).contains(response.status) {
                    return try decode(response.body, purpose: purpose, attempt: attempt, seconds: seconds)
                }
                let detail = ChatCompletionsResponse.ErrorBody.parse(response.body)
                let message = masked(detail?.message ?? "no error message")
                let said = masked(String(decoding: response.body.prefix(4_096), as: UTF8.self))
                if ![401, 403, 404, 429].contains(response.status),
                   let feature = sent.refusedFeature(status: response.status, param: detail?.param, text: said) {
                    let left = capabilities.refuse(feature, endpoint: endpoint, model: request.model)
                    logger.warning("the endpoint does not support a feature of the request; stepping down", metadata: [
                        "purpose": "\(purpose)", "feature": "\(feature.rawValue)", "status": .stringConvertible(response.status),
                        "error": "\(message)", "capabilities": "\(left)",
                    ])
                    // Without tools the tool loop has no sense, and without any response_format the
                    // prompt must ask for another format: both are the caller's to change.
                    if feature == .tools || (left.output == .plain && sent.responseFormat != nil) {
                        throw ChatCompletionsError.unsupported(feature: feature, message: message)
                    }
                    let adapted = request.adapted(to: left)
                    if adapted != sent {
                        sent = adapted
                        body = adapted.encoded()
                        attempt -= 1
                        continue
                    }
                }
                switch response.status {
                case 401, 403:
                    throw ChatCompletionsError.unauthorized(status: response.status, message: message)
                case 404:
                    throw ChatCompletionsError.notFound(url: endpoint, message: message)
                case 429 where detail?.code == "insufficient_quota" || detail?.type == "insufficient_quota":
                    throw ChatCompletionsError.quotaExhausted(message: message)
                case 408, 409, 429, 500...:
                    last = "HTTP \(response.status): \(message)"
                    retryAfter = Self.retryDelay(headers: response.headers)
                default:
                    throw ChatCompletionsError.rejected(status: response.status, param: detail?.param, message: message)
                }
            } catch let failure as WebClient.Failure {
                last = masked(failure.description)
            } catch let error as ChatCompletionsError {
                throw error
            } catch {
                last = masked("\(error)")
            }
            let delay = retryAfter ?? min(30, backoffBase * pow(2, Double(attempt - 1)))
            let left = deadline.timeIntervalSinceNow
            guard attempt < maximumAttempts, left - delay >= minimumAttemptTime else {
                logger.warning("chat completion failed; no time left to retry", metadata: [
                    "purpose": "\(purpose)", "attempt": .stringConvertible(attempt), "error": "\(last)",
                    "seconds_left": .stringConvertible(Self.rounded(left)),
                ])
                throw .outOfTime(attempts: attempt, last: last)
            }
            logger.warning("chat completion failed; retrying", metadata: [
                "purpose": "\(purpose)", "attempt": .stringConvertible(attempt), "error": "\(last)",
                "retry_in": .stringConvertible(Self.rounded(delay)),
            ])
            do {
                try await Task.sleep(for: .seconds(delay))
            } catch {
                throw .outOfTime(attempts: attempt, last: "cancelled while waiting to retry after \(last)")
            }
        }
    }

    /// Decodes a 2xx body and logs the exchange's token usage.
    private func decode(_ body: Data, purpose: String, attempt: Int, seconds: TimeInterval) throws(ChatCompletionsError) -> ChatCompletionsResponse {
        let answer: ChatCompletionsResponse
        do {
            answer = try JSONDecoder().decode(ChatCompletionsResponse.self, from: body)
        } catch {
            throw .malformedAnswer("\(body.count) bytes that do not decode as a chat.completion object")
        }
        guard let choice = answer.first else { throw .malformedAnswer("no choices") }
        let usage = answer.usage
        logger.info("chat completion", metadata: [
            "purpose": "\(purpose)",
            "model": "\(answer.model ?? "unknown")",
            "attempt": .stringConvertible(attempt),
            "seconds": .stringConvertible(Self.rounded(seconds)),
            "finish_reason": "\(choice.finishReason ?? "unknown")",
            "prompt_tokens": .stringConvertible(usage?.promptTokens ?? -1),
            "completion_tokens": .stringConvertible(usage?.completionTokens ?? -1),
            "total_tokens": .stringConvertible(usage?.totalTokens ?? -1),
        ])
        return answer
    }

    /// `text` with the API key masked and cut to 300 characters: server messages are repeated in
    /// errors and logs, and a server may echo what it was sent.
    func masked(_ text: String) -> String {
        var text = text
        if apiKey.count >= 4 { text = text.replacingOccurrences(of: apiKey, with: "[redacted]") }
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// The wait a 429 or 503 asks for: `retry-after-ms`, else `Retry-After` in seconds or as an
    /// HTTP date; `nil` when neither is given or readable.
    static func retryDelay(headers: [String: String], now: Date = .now) -> TimeInterval? {
        if let text = headers["retry-after-ms"], let milliseconds = Double(text.trimmingCharacters(in: .whitespaces)), milliseconds >= 0 {
            return milliseconds / 1000
        }
        guard let text = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(text), seconds >= 0 { return seconds }
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "GMT")
        format.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return format.date(from: text).map { max(0, $0.timeIntervalSince(now)) }
    }

    /// Milliseconds precision, for logs.
    private static func rounded(_ seconds: TimeInterval) -> Double { (seconds * 1000).rounded() / 1000 }
}
