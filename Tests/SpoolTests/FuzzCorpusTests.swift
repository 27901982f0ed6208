import Foundation
import Testing
@testable import Spool

/// Replays every input libFuzzer kept (Tests/Fuzz/corpus) through the decoder and validator
/// without sanitizers: each must be decided the same way twice, and every refusal must name a
/// field and say why.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    @Test func everyKeptInputIsDecidedConsistently() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path)
        #expect(names.count >= 8, "the corpus is missing")
        var accepted = 0
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            let first = Result { () throws(RequestError) in try TaskRequest(validating: JSONValue.parse(bytes)) }
            let second = Result { () throws(RequestError) in try TaskRequest(validating: JSONValue.parse(bytes)) }
            switch (first, second) {
            case (.success(let a), .success(let b)):
                #expect(a == b, "\(name)")
                accepted += 1
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "\(name)")
                #expect(!a.field.isEmpty && !a.reason.isEmpty, "\(name)")
            default:
                Issue.record("\(name) was decided differently twice")
            }
        }
        #expect(accepted >= 1, "the valid seed no longer validates")
    }
}
