import Fetch
import Foundation
import Logging
import Spool

/// The `Generator` seam's real adapter (docs/architecture.md, Seams): any OpenAI-compatible Chat Completions
/// server (OpenAI, AI Pipe, OpenRouter, Ollama, llama.cpp, vLLM), chosen by configuration alone.
///
/// With `tools` set, it first runs the tool loop: the model lists, reads, writes and
/// deletes files, fetches public URLs and calls `finish`, within the tool-call, token and time
/// budget; the tree it built is used even when a budget stops it. A server that refuses `tools`,
/// or a model that calls none, gets the single-answer contract instead.
///
/// The single answer: the files as JSON under a strict `response_format` schema, read leniently
/// when a server ignores the schema, every path and file validated, and one repair call quoting
/// the exact problems when the answer cannot be used, all within the stage's budget. Round ≥ 2
/// answers are changes; it returns the complete new tree (existing files, plus changes, minus
/// deletions), as the seam requires.
struct ChatCompletionsGenerator: Generator {
    /// The model, as the provider names it; recorded in the journal as the generator's name.
    let model: String
    /// The HTTP exchange, with retries and timeouts.
    var client: ChatCompletionsClient
    /// How the messages are written.
    var prompt = GenerationPrompt()
    /// A previous answer longer than this is not replayed in the repair call (only its problems are).
    var maximumReplayCharacters = 100_000
    /// The tool loop's budget and limits; `nil` asks for a single answer only.
    var tools: ToolLoopSettings?
    /// Converts the single answer's declarative sources (`"from": "data.xlsx"`).
    var conversion = FileConversion()

    /// - Parameters:
    ///   - baseURL: `OPENAI_BASE_URL`, e.g. `https://api.openai.com/v1`.
    ///   - apiKey: sent as a bearer token, never logged.
    ///   - model: `LLM_DEPLOY_MODEL`.
    ///   - tools: the tool loop's settings, or `nil` for the single-answer contract alone.
    init(baseURL: String, apiKey: String, model: String, web: WebClient = WebClient(), logger: Logger, tools: ToolLoopSettings? = nil) {
        self.model = model
        self.tools = tools
        client = ChatCompletionsClient(
            endpoint: ChatCompletionsClient.endpoint(forBaseURL: baseURL), apiKey: apiKey, web: web, logger: logger)
    }

    /// The model's name, recorded in the journal.
    var name: String { model }

    /// The complete new tree for `brief` and how it was made, within `budget` seconds; throws
    /// when no usable answer came in time (the engine then falls back to the offline template).
    func generate(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> GenerationReport {
        let deadline = Date().addingTimeInterval(budget)
        var client = client
        client.logger[metadataKey: "id"] = "\(brief.request.id)"
        client.logger[metadataKey: "model"] = "\(model)"
        let logger = client.logger
        guard let tools, client.known(model: model).tools else {
            if tools != nil { logger.notice("the endpoint refused tools earlier in this process; using the single-answer contract") }
            return try await singleAnswer(brief, until: deadline, client: client)
        }
        let loop = await ToolLoop(model: model, client: client, settings: tools, prompt: prompt).run(brief, until: deadline)
        let workspace = loop.tools.workspace
        let summary: [String: Logger.MetadataValue] = [
            "tool_calls": .stringConvertible(loop.records.count), "tokens": .stringConvertible(loop.tokens),
        ]
        switch loop.ending {
        case .finished(let text):
            logger.info("tool loop finished", metadata: summary)
            return finishTools(workspace, summary: text, brief: brief, logger: logger).made(.tools, toolCalls: loop.records)
        case .stopped(let reason) where workspace.hasChanges:
            logger.warning("tool loop stopped before finish; using the files written so far", metadata: summary.merging(["reason": "\(reason)"]) { $1 })
            return finishTools(workspace, summary: nil, brief: brief, logger: logger).made(.toolsStopped, toolCalls: loop.records)
        case .failed(let error) where workspace.hasChanges:
            logger.warning("the model failed during the tool loop; using the files written so far", metadata: summary.merging(["error": "\(error)"]) { $1 })
            return finishTools(workspace, summary: nil, brief: brief, logger: logger).made(.toolsStopped, toolCalls: loop.records)
        case .failed(let error):
            throw Self.pipelineError(error)
        case .stopped(let reason):
            logger.warning("tool loop stopped with nothing written; asking for a single answer", metadata: summary.merging(["reason": "\(reason)"]) { $1 })
        case .unsupported(let reason, let answer):
            logger.notice("no tool calling; using the single-answer contract", metadata: ["reason": "\(reason)"])
            // A server that ignores tools (llama-cpp-python without a function-calling chat
            // format) costs a whole exchange each time: not offered them again in this process.
            client.capabilities.refuse(.tools, endpoint: client.endpoint, model: model)
            if let answer {
                let direct = evaluate(answer, brief: brief)
                if direct.problems.isEmpty, let changes = direct.accepted {
                    logger.info("the answer given instead of tool calls is a usable set of files")
                    return finish(changes, notes: direct.notes, brief: brief, logger: logger).made(.singleAnswer, toolCalls: loop.records)
                }
            }
        }
        return try await singleAnswer(brief, until: deadline, client: client).made(.singleAnswer, toolCalls: loop.records)
    }

    /// The tree the tool loop built, checked once more as an answer would be, with the round's
    /// README note when the model left README.md alone.
    private func finishTools(_ workspace: ToolWorkspace, summary: String?, brief: GenerationBrief, logger: Logger) -> GenerationReport {
        let review = workspace.changes(summary: summary).reviewed(existing: brief.existingFiles, attachments: brief.attachmentFiles)
        if !review.problems.isEmpty {
            logger.warning("the tool loop's tree had problems; they were left out", metadata: [
                "problems": .array(review.problems.prefix(20).map { .string($0) }),
            ])
        }
        return finish(review.accepted, notes: review.notes, brief: brief, logger: logger)
    }

    /// The single-answer contract: one completion, one repair call when it cannot be used.
    private func singleAnswer(_ brief: GenerationBrief, until deadline: Date, client: ChatCompletionsClient) async throws(PipelineError) -> GenerationReport {
        let logger = client.logger
        let round = brief.request.round
        var fenced = client.known(model: model).output == .plain
        var messages = prompt.messages(for: brief, fenced: fenced)
        let first: ChatCompletionsResponse
        do {
            first = try await ask(&messages, fenced: &fenced, brief: brief, until: deadline, purpose: "generate", client: client)
        } catch {
            throw Self.pipelineError(error)
        }
        let initial = evaluate(first, brief: brief)
        if initial.problems.isEmpty, let changes = initial.accepted {
            return finish(changes, notes: initial.notes, brief: brief, logger: logger)
        }
        logger.warning("answer unusable; asking for a repair", metadata: [
            "problems": .array(initial.problems.prefix(20).map { .string($0) }),
        ])
        guard deadline.timeIntervalSinceNow >= client.minimumAttemptTime else {
            return try salvage([initial], brief: brief, logger: logger, reason: "no time left for a repair")
        }
        if let content = first.first?.message?.content, !content.isEmpty, content.count <= maximumReplayCharacters {
            messages.append(.assistant(content))
        }
        messages.append(.user(prompt.repair(problems: initial.problems, round: round, fenced: fenced)))
        let repaired: Evaluation
        do {
            repaired = evaluate(try await ask(&messages, fenced: &fenced, brief: brief, until: deadline, purpose: "repair", client: client), brief: brief)
        } catch {
            return try salvage([initial], brief: brief, logger: logger, reason: "the repair call failed: \(error)")
        }
        if repaired.problems.isEmpty, let changes = repaired.accepted {
            logger.info("repair succeeded")
            return finish(changes, notes: repaired.notes, brief: brief, logger: logger)
        }
        return try salvage([repaired, initial], brief: brief, logger: logger, reason: "the repaired answer is still unusable")
    }

    /// One completion under the output contract's schema; the client steps the format down
    /// (`json_object`) for a server that refuses it. A server that takes no `response_format`
    /// at all is asked again at once for fenced files, with the prompt that asks for them.
    private func ask(
        _ messages: inout [ChatCompletionsRequest.Message], fenced: inout Bool, brief: GenerationBrief,
        until deadline: Date, purpose: String, client: ChatCompletionsClient
    ) async throws(ChatCompletionsError) -> ChatCompletionsResponse {
        do {
            return try await client.complete(
                ChatCompletionsRequest(model: model, messages: messages, responseFormat: fenced ? nil : .repositoryChanges),
                until: deadline, purpose: purpose)
        } catch .unsupported(let feature, _) where !fenced && (feature == .jsonSchema || feature == .jsonObject) {
            fenced = true
            messages[0] = .system(prompt.system(round: brief.request.round, fenced: true))
            if messages.count == 2 { messages[1] = prompt.userMessage(for: brief, fenced: true) }
            return try await client.complete(
                ChatCompletionsRequest(model: model, messages: messages, responseFormat: nil), until: deadline, purpose: purpose)
        }
    }

    /// One answer, read and checked.
    struct Evaluation: Sendable {
        /// What can be used (`nil` when nothing could be read).
        var accepted: GeneratedChanges?
        /// What is wrong, phrased for the model.
        var problems: [String]
        /// Harmless things ignored, for the log.
        var notes: [String]
    }

    /// Reads and reviews an answer: refusals, truncation, parse failures and broken rules all
    /// become problems the repair can quote.
    private func evaluate(_ response: ChatCompletionsResponse, brief: GenerationBrief) -> Evaluation {
        let choice = response.first
        if let refusal = choice?.message?.refusal, !refusal.isEmpty {
            return Evaluation(accepted: nil, problems: ["you declined (\(refusal.prefix(300))): the brief asks for an ordinary static web app; build it"], notes: [])
        }
        let content = choice?.message?.content ?? ""
        var problems: [String] = []
        switch choice?.finishReason {
        case "length":
            problems.append("the answer was cut off at the output limit (finish_reason \"length\") after \(content.count) characters: "
                + "send less, with fewer and shorter files")
        case "content_filter":
            problems.append("the answer was stopped by the content filter (finish_reason \"content_filter\")")
        default: break
        }
        let answer: GeneratedFilesParser.Answer
        do {
            answer = try GeneratedFilesParser.parse(content)
        } catch {
            return Evaluation(accepted: nil, problems: problems + [error.description], notes: [])
        }
        let (changes, sourceProblems) = answer.changes.resolvingSources(in: { path in
            if let attachment = brief.attachments.first(where: { $0.name == path }) { return (attachment.bytes, attachment.mediaType) }
            return brief.existingFiles[path].map { ($0, "") }
        }, conversion: conversion)
        let review = changes.reviewed(existing: brief.existingFiles, attachments: brief.attachmentFiles)
        return Evaluation(accepted: review.accepted, problems: problems + answer.problems + sourceProblems + review.problems, notes: review.notes)
    }

    /// After the repair failed: the first evaluation with something usable in it, its broken
    /// parts left out, rather than the offline template. Throws when none has anything.
    private func salvage(_ candidates: [Evaluation], brief: GenerationBrief, logger: Logger, reason: String) throws(PipelineError) -> GenerationReport {
        let problems = candidates.first?.problems ?? []
        guard let usable = candidates.first(where: { !($0.accepted?.files.isEmpty ?? true) }), let changes = usable.accepted else {
            throw .transient("the model gave no usable files (\(reason)): " + problems.prefix(5).joined(separator: "; "))
        }
        logger.warning("using the valid part of an answer that had problems", metadata: [
            "reason": "\(reason)", "problems": .array(usable.problems.prefix(20).map { .string($0) }),
        ])
        return finish(changes, notes: usable.notes, brief: brief, logger: logger)
    }

    /// The complete tree: `changes` applied to the existing files, as a single answer's report
    /// (the tool loop's callers say otherwise with `made`).
    private func finish(_ changes: GeneratedChanges, notes: [String], brief: GenerationBrief, logger: Logger) -> GenerationReport {
        let tree = changes.applied(to: brief.existingFiles)
        logger.info("generated", metadata: [
            "files": .stringConvertible(changes.files.count),
            "deleted": .stringConvertible(changes.deletions.count),
            "tree": .stringConvertible(tree.count),
            "ignored": .array(notes.prefix(20).map { .string($0) }),
        ])
        let replaced = changes.replacing(brief.attachmentFiles)
        if !replaced.isEmpty { logger.info("attachments replaced by the model's files", metadata: ["replaced": .array(replaced.map { .string($0) })]) }
        return GenerationReport(
            tree: tree, mode: .singleAnswer, summary: changes.summary,
            wroteReadme: changes.files.contains { $0.path == "README.md" }, replacedAttachments: replaced)
    }

    /// The pipeline's view of a failed exchange: worth retrying later, or not.
    private static func pipelineError(_ error: ChatCompletionsError) -> PipelineError {
        error.isTransient ? .transient(error.description) : .permanent(error.description)
    }
}

extension GenerationReport {
    /// The same tree, recorded as made in `mode` with `toolCalls`.
    func made(_ mode: Mode, toolCalls: [ToolCallRecord]) -> GenerationReport {
        var report = self
        report.mode = mode
        report.toolCalls = toolCalls
        return report
    }
}
