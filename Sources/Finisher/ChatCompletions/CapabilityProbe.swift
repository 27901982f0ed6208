import Foundation

/// `doctor`'s look at what an endpoint accepts: three tiny requests (a `json_schema` answer, a
/// tool, an image part), each at most 16 tokens, through the same negotiation the generator
/// uses, so the report says what generation will actually send.
struct CapabilityProbe: Sendable {
    var client: ChatCompletionsClient
    let model: String

    /// A 1×1 transparent PNG.
    static let pixel = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

    /// What the endpoint accepts, or the error that stopped the probe (a refused key, a missing model).
    func run(within seconds: TimeInterval = 60) async -> Result<EndpointCapabilities, ChatCompletionsError> {
        let deadline = Date().addingTimeInterval(seconds)
        let schema = ChatCompletionsRequest.ResponseFormat(jsonSchema: .init(
            name: "probe", strict: true,
            schema: .object([
                "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("ok")]),
                "properties": .object(["ok": .object(["type": .string("boolean")])]),
            ])))
        let ping = ChatCompletionsRequest.Tool(
            name: "ping", description: "Answers pong.",
            parameters: .object(["type": .string("object"), "properties": .members([]), "additionalProperties": .bool(false)]))
        let probes = [
            ChatCompletionsRequest(model: model, messages: [.user("Answer with the JSON object {\"ok\": true}.")], responseFormat: schema, maxTokens: 16),
            ChatCompletionsRequest(model: model, messages: [.user("Call the ping tool.")], responseFormat: nil, tools: [ping], maxTokens: 16),
            ChatCompletionsRequest(model: model, messages: [ChatCompletionsRequest.Message(
                role: .user, content: nil, parts: [.text("What colour is this pixel? One word."), .image(url: Self.pixel, description: "(a pixel)")])],
                responseFormat: nil, maxTokens: 16),
        ]
        for probe in probes {
            do {
                _ = try await client.complete(probe, until: deadline, purpose: "probe")
            } catch .unsupported {
                continue
            } catch {
                return .failure(error)
            }
        }
        return .success(client.known(model: model))
    }
}
