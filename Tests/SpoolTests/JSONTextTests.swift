import Foundation
import Testing
@testable import Spool

/// The hand-written spool encoding is byte for byte what `JSONEncoder` wrote before.
@Suite struct JSONTextTests {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let awkward = [
        "", "plain", "quote \" backslash \\ slash / ", "controls \u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1F} end",
        "DEL \u{7F} C1 \u{85} LS \u{2028} PS \u{2029} BOM \u{FEFF}", "é café 😀 \u{10FFFF}", "</script>", "\\u0041 stays text",
    ]

    @Test func spoolFilesMatchJSONEncoder() throws {
        var generator = SeededGenerator(seed: 42)
        for index in 0..<400 {
            func text() -> String { Self.awkward.randomElement(using: &generator)! + String(index) }
            let request = TaskRequest(
                email: text(), task: text(), round: Int.random(in: 1...10_000, using: &generator), nonce: text(), brief: text(),
                checks: (0..<Int.random(in: 0...3, using: &generator)).map { _ in text() }, evaluationURL: text(),
                attachments: (0..<Int.random(in: 0...3, using: &generator)).map { _ in Attachment(name: text(), url: text()) },
                receivedAt: index % 5 == 0 ? nil : Date(timeIntervalSince1970: Double.random(in: 0...4_102_444_800, using: &generator)))
            #expect(try request.encoded() == Self.encoder.encode(request), "\(request)")
        }
    }

    @Test func datesDropTheirFraction() throws {
        for seconds in [0, 0.999_999, 1_790_000_000.5, 1_790_000_059.999, 951_782_400, 4_102_444_799.9] {
            var request = try Fixtures.request()
            request.receivedAt = Date(timeIntervalSince1970: seconds)
            #expect(try request.encoded() == Self.encoder.encode(request), "\(seconds)")
        }
        var text = JSONText()
        text.iso8601(secondsSince1970: 951_868_799.75)
        #expect(text.bytes == Array(#""2000-02-29T23:59:59Z""#.utf8))
    }

    @Test func escapesControlCharactersQuotesAndBackslashesOnly() {
        var text = JSONText()
        text.string("a\"b\\c/d\u{1}\n\u{7F}é")
        #expect(String(decoding: text.bytes, as: UTF8.self) == #""a\"b\\c/d\u0001\n"# + "\u{7F}é\"")
    }
}
