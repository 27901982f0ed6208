import Foundation
import Synchronization

/// What one OpenAI-compatible endpoint (base URL and model) accepts, learnt from its refusals:
/// real servers refuse `json_schema`, tools, image parts or `max_tokens` in their own words,
/// some with a 500. Each refusal steps one feature down at once (`json_schema` → `json_object`
/// → plain text; tools → none; images → text; `max_tokens` → `max_completion_tokens` → none)
/// instead of retrying the same request, and the process remembers it.
struct EndpointCapabilities: Sendable, Equatable, CustomStringConvertible {
    /// How answers are constrained.
    enum OutputFormat: Int, Sendable, Comparable {
        /// `response_format: json_schema` (Structured Outputs).
        case jsonSchema
        /// `response_format: json_object` (JSON mode).
        case jsonObject
        /// No `response_format`: the prompt asks for one fenced block per file.
        case plain

        static func < (left: Self, right: Self) -> Bool { left.rawValue < right.rawValue }
    }

    /// How the answer's length is capped.
    enum TokenLimit: Sendable, Equatable {
        case maxTokens, maxCompletionTokens, none
    }

    /// A request feature a server may refuse.
    enum Feature: String, Sendable, Equatable {
        case jsonSchema = "json_schema", jsonObject = "json_object", tools, images
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens"
    }

    var output = OutputFormat.jsonSchema
    var tools = true
    var images = true
    var tokenLimit = TokenLimit.maxTokens

    /// These capabilities without `feature`: one step down.
    func without(_ feature: Feature) -> EndpointCapabilities {
        var next = self
        switch feature {
        case .jsonSchema: next.output = max(output, .jsonObject)
        case .jsonObject: next.output = .plain
        case .tools: next.tools = false
        case .images: next.images = false
        case .maxTokens: next.tokenLimit = tokenLimit == .maxTokens ? .maxCompletionTokens : tokenLimit
        case .maxCompletionTokens: next.tokenLimit = .none
        }
        return next
    }

    /// One line for `doctor` and the logs.
    var description: String {
        let format = switch output {
        case .jsonSchema: "json_schema"
        case .jsonObject: "json_object (json_schema refused)"
        case .plain: "plain text (response_format refused)"
        }
        let limit = switch tokenLimit {
        case .maxTokens: "max_tokens"
        case .maxCompletionTokens: "max_completion_tokens"
        case .none: "none accepted"
        }
        return "response format \(format); tools \(tools ? "accepted" : "refused"); images \(images ? "accepted" : "refused"); token limit \(limit)"
    }
}

/// The capabilities learnt in this process, by endpoint and model. Finisher processes are short
/// (one drain), so what a server refused is asked again by the next process.
final class CapabilityMemory: Sendable {
    /// The process's memory.
    static let shared = CapabilityMemory()

    private let table = Mutex<[String: EndpointCapabilities]>([:])

    init() {}

    /// What `endpoint` is known to accept for `model` (everything, until it refuses something).
    func capabilities(endpoint: String, model: String) -> EndpointCapabilities {
        table.withLock { $0[endpoint + " " + model] ?? EndpointCapabilities() }
    }

    /// Records that `endpoint` refused `feature` for `model`; returns what is left.
    @discardableResult
    func refuse(_ feature: EndpointCapabilities.Feature, endpoint: String, model: String) -> EndpointCapabilities {
        table.withLock { table in
            let next = (table[endpoint + " " + model] ?? EndpointCapabilities()).without(feature)
            table[endpoint + " " + model] = next
            return next
        }
    }
}
