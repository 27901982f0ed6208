import Foundation
import Logging

/// The bounded tool-calling conversation: the model calls tools, we execute them and
/// send back `tool` messages, until it calls `finish` or the budget ends — tool calls, model
/// exchanges, tokens, or the stage's deadline, whichever comes first.
///
/// It never throws: how it ended is in `Result.ending`, and the tree built so far (valid after
/// every call) is in `Result.tools.workspace`. The generator decides what to use: the tree, or
/// the single-answer contract when the server has no tool support.
struct ToolLoop: Sendable {
    /// The model, as the provider names it.
    let model: String
    /// The HTTP exchange (retries, timeouts, usage logging).
    let client: ChatCompletionsClient
    /// The budget and the tools' limits.
    let settings: ToolLoopSettings
    /// How the messages are written.
    let prompt: GenerationPrompt

    /// How the loop ended.
    enum Ending: Sendable {
        /// The model called `finish`.
        case finished(summary: String)
        /// A budget ran out (or the model stopped calling tools after some work); `reason` says which.
        case stopped(reason: String)
        /// The server refused `tools`, or the model answered without calling any: use the
        /// single-answer contract. `answer` is what the model said instead, if anything.
        case unsupported(reason: String, answer: ChatCompletionsResponse?)
        /// An exchange failed past its retries.
        case failed(ChatCompletionsError)
    }

    /// What the loop produced.
    struct Result: Sendable {
        /// How it ended.
        var ending: Ending
        /// The tools, holding the tree as built.
        var tools: GeneratorTools
        /// Every tool call, in order.
        var records: [ToolCallRecord]
        /// Tokens used, summed over the exchanges.
        var tokens: Int
    }

    /// Runs the conversation for `brief` until `finish`, a budget, or `deadline`; `run_checks`'
    /// browser, if one was started, is closed when it ends.
    func run(_ brief: GenerationBrief, until deadline: Date) async -> Result {
        let result = await converse(brief, until: deadline)
        await brief.checkRunner?.close()
        return result
    }

    private func converse(_ brief: GenerationBrief, until deadline: Date) async -> Result {
        let logger = client.logger
        var tools = GeneratorTools(brief, settings: settings)
        var messages = prompt.toolMessages(for: brief, maximumToolCalls: settings.maximumToolCalls,
                                           checkRuns: tools.checkRunner == nil ? nil : settings.maximumCheckRuns)
        var records: [ToolCallRecord] = []
        var exchanges = 0
        var tokens = 0
        var nudges = 0
        func result(_ ending: Ending) -> Result {
            Result(ending: ending, tools: tools, records: records, tokens: tokens)
        }

        while true {
            if exchanges >= settings.maximumExchanges {
                return result(.stopped(reason: "the limit of \(settings.maximumExchanges) model exchanges"))
            }
            if records.count >= settings.maximumToolCalls {
                return result(.stopped(reason: "the limit of \(settings.maximumToolCalls) tool calls"))
            }
            if tokens >= settings.maximumTokens {
                return result(.stopped(reason: "the token budget (\(tokens) of \(settings.maximumTokens) used)"))
            }
            if exchanges > 0 && deadline.timeIntervalSinceNow < client.minimumAttemptTime {
                return result(.stopped(reason: "the stage's deadline"))
            }
            exchanges += 1
            let request = ChatCompletionsRequest(model: model, messages: messages, responseFormat: nil, tools: tools.offered)
            let response: ChatCompletionsResponse
            do {
                response = try await client.complete(request, until: deadline, purpose: "tools")
            } catch {
                if records.isEmpty, case .rejected(_, let param, let message) = error, Self.namesTools(param: param, message: message) {
                    return result(.unsupported(reason: "the server refused tools: \(message)", answer: nil))
                }
                if case .unsupported(.tools, let message) = error {
                    return result(.unsupported(reason: "the server refused tools: \(message)", answer: nil))
                }
                return result(.failed(error))
            }
            tokens += response.usage?.totalTokens ?? request.encoded().count / 4
            let message = response.first?.message
            let calls = message?.toolCalls ?? []
            guard !calls.isEmpty else {
                if records.isEmpty {
                    return result(.unsupported(reason: "the model answered without calling a tool", answer: response))
                }
                guard nudges < settings.maximumNudges else {
                    return result(.stopped(reason: "the model stopped calling tools without calling finish"))
                }
                nudges += 1
                logger.notice("the model stopped calling tools before finish; reminding it")
                messages.append(.assistant(message?.content ?? ""))
                messages.append(.user(prompt.toolNudge()))
                continue
            }
            messages.append(.assistant(message?.content, calling: calls))
            for call in calls {
                guard records.count < settings.maximumToolCalls else {
                    return result(.stopped(reason: "the limit of \(settings.maximumToolCalls) tool calls"))
                }
                let started = Date()
                let outcome = await tools.run(call, until: deadline)
                let record = ToolCallRecord(
                    name: String(call.name.prefix(64)), arguments: ToolCallRecord.redacted(call.arguments, secrets: [client.apiKey]),
                    outcome: outcome.outcome, resultBytes: outcome.text.utf8.count,
                    seconds: (Date().timeIntervalSince(started) * 1000).rounded() / 1000,
                    detail: outcome.outcome == .ok ? nil : String(ToolCallRecord.masked(outcome.text, secrets: [client.apiKey]).prefix(300)))
                records.append(record)
                Self.log(record, logger: logger)
                messages.append(.tool(call.id, outcome.text))
                if let summary = tools.finishedSummary {
                    return result(.finished(summary: summary))
                }
            }
        }
    }

    /// Whether a 4xx is about tools (OpenAI-compatible servers without function calling say so:
    /// Ollama "does not support tools", vLLM "tool choice requires --enable-auto-tool-choice",
    /// llama.cpp "tools param requires --jinja").
    static func namesTools(param: String?, message: String) -> Bool {
        let text = ((param ?? "") + " " + message).lowercased()
        return text.contains("tool") || text.contains("function")
    }

    /// One line per call: what, how it ended, how big, how long; the refusal or error when not ok.
    private static func log(_ record: ToolCallRecord, logger: Logger) {
        var metadata: Logger.Metadata = [
            "tool": "\(record.name)", "arguments": "\(record.arguments)", "outcome": "\(record.outcome.rawValue)",
            "result_bytes": .stringConvertible(record.resultBytes), "seconds": .stringConvertible(record.seconds),
        ]
        if let detail = record.detail { metadata["detail"] = "\(detail)" }
        logger.log(level: record.outcome == .ok ? .info : .notice, "tool call", metadata: metadata)
    }
}
