import Foundation
import Spool
import Testing
import TestSupport
@testable import Finisher

/// Image attachments reach the model as `image_url` parts (text where the endpoint refuses
/// them), and the model may write a binary file as base64.
struct ImageAndBinaryTests {
    typealias F = GeneratorFixtures
    typealias T = ToolLoopFixtures

    /// A real 2×3 RGBA PNG, written by Python's zlib (an independent encoder).
    static func png() throws -> Data {
        let text = try T.python("""
            import base64, struct, zlib
            def chunk(kind, data):
                return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
            rows = b"".join(b"\\x00" + bytes([255, 0, 0, 255]) * 2 for _ in range(3))
            png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 3, 8, 6, 0, 0, 0)) \\
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
            print(base64.b64encode(png).decode())
            """, [])
        return try #require(Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The user turn of a recorded request: its text parts joined, and its image URLs.
    static func userTurn(_ record: [String: Any]) -> (text: String, images: [String]) {
        let messages = (record["body"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
        guard let user = messages.first(where: { $0["role"] as? String == "user" }) else { return ("", []) }
        if let text = user["content"] as? String { return (text, []) }
        let parts = user["content"] as? [[String: Any]] ?? []
        let text = parts.compactMap { $0["text"] as? String }.joined(separator: "\n")
        let images = parts.compactMap { ($0["image_url"] as? [String: Any])?["url"] as? String }
        return (text, images)
    }

    @Test func anImageAttachmentReachesTheModelAsAnImagePart() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let logo = try Self.png()
        let stub = try F.stub(key: key, script: ["steps": [
            ["expect": ["has_images": true], "content": F.answer(["index.html": GeneratorTests.page])],
            ["expect": ["has_images": true, "has_tools": true], "tool_calls": [["name": "write_file", "arguments": ["path": "index.html", "content": "<img src=\"logo.png\">"]]]],
            ["tool_calls": [["name": "finish", "arguments": ["summary": "done"]]]],
        ]])
        let attachments = [ReceivedAttachment(name: "logo.png", mediaType: "image/png", bytes: logo),
                           ReceivedAttachment(name: "notes.txt", mediaType: "text/plain", bytes: Data("hello\n".utf8))]
        let brief = F.brief(text: "Describe the attached logo.", attachments: attachments)
        _ = try await F.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 10)
        _ = try await T.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 10)

        for record in try F.completions(stub) {
            #expect(record["status"] as? Int == 200)
            let turn = Self.userTurn(record)
            #expect(turn.images == ["data:image/png;base64," + logo.base64EncodedString()])
            #expect(turn.text.contains("## logo.png") && turn.text.contains("An image (image/png, \(logo.count) bytes, 2×3 pixels), shown to you"))
            #expect(turn.text.contains("hello"))
        }
    }

    @Test func aServerThatRefusesImagePartsGetsTextFromThenOn() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let logo = try Self.png()
        let stub = try F.stub(key: key, script: ["server": "vllm", "steps": [
            ["expect": ["has_images": false], "content": F.answer(["index.html": GeneratorTests.page])],
            ["expect": ["has_images": false], "content": F.answer(["index.html": GeneratorTests.page])],
        ]])
        let brief = F.brief(text: "Show the logo.", attachments: [ReceivedAttachment(name: "logo.png", mediaType: "image/png", bytes: logo)])
        let generator = F.generator(stub, key: key, logs: LogRecorder())
        _ = try await generator.generate(brief, budget: 10)
        _ = try await generator.generate(brief, budget: 10)

        let records = try F.completions(stub)
        #expect(records.map { $0["status"] as? Int } == [400, 200, 200], "one refusal, then text from then on")
        #expect(Self.userTurn(records[0]).images.count == 1)
        let fallback = Self.userTurn(records[1]).text
        #expect(fallback.contains("[The image attachment logo.png (image/png, \(logo.count) bytes, 2×3 pixels) cannot be shown: this endpoint does not take images."))
        #expect(!generator.client.known(model: "test-model").images)
    }

    @Test func aBinaryFileFromTheModelIsCommittedByteForByte() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let icon = try Self.png()
        let answer: [String: Any] = ["summary": "s", "delete": [], "files": [
            ["path": "index.html", "content": "<img src=\"icon.png\">", "encoding": NSNull(), "from": NSNull()],
            ["path": "icon.png", "content": icon.base64EncodedString(), "encoding": "base64", "from": NSNull()],
        ]]
        let stub = try F.stub(key: key, script: ["steps": [
            ["content": answer],
            T.calls([("w1", "write_file", ["path": "favicon.ico", "content": icon.base64EncodedString(), "encoding": "base64"]),
                     ("w2", "write_file", ["path": "x.png", "content": "AAAA", "encoding": "rot13"]),
                     ("w3", "write_file", ["path": "y.png", "content": "PNG pretending to be text"])]),
            T.calls([("w4", "write_file", ["path": "index.html", "content": "<link rel=icon href=favicon.ico>"]), ("w5", "finish", ["summary": "s"])]),
        ]])
        let single = try await F.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 10)
        #expect(single.tree["icon.png"] == icon)
        let tooled = try await T.generator(stub, key: key, logs: LogRecorder()).generate(F.brief(), budget: 10)
        #expect(tooled.tree["favicon.ico"] == icon)
        #expect(tooled.tree["x.png"] == nil && tooled.tree["y.png"] == nil)
        let results = T.toolResults(try #require(try F.completions(stub).last))
        #expect(results["w2"] == "Refused: write_file's encoding is \"utf-8\" or \"base64\", not \"rot13\"")
        #expect(results["w3"]?.contains("\"y.png\" is a binary format (.png), which cannot be written as text") == true)

        // The review: base64 must decode, and the decoded size is capped like any other file.
        let huge = Data(count: RepositoryDocuments.maximumFileSize + 1).base64EncodedString()
        let review = GeneratedChanges(files: [
            .init(path: "big.bin", content: huge, encoding: .base64), .init(path: "broken.png", content: "not base64 at all!", encoding: .base64),
        ]).reviewed(existing: [:], attachments: [:])
        #expect(review.accepted.files.isEmpty)
        #expect(review.problems.contains { $0.contains("\"big.bin\" is \(RepositoryDocuments.maximumFileSize + 1) bytes, more than") })
        #expect(review.problems.contains { $0.contains("\"broken.png\" is marked \"encoding\": \"base64\" but its content is not base64") })
    }
}
