import Foundation
import Testing
@testable import Spool

/// The single-pass parser behind `JSONValue.parse`: the JSON it accepts and refuses, and that it
/// decides every input as Foundation's `JSONDecoder` did when it decoded `JSONValue` by probing
/// types (still `JSONValue`'s reading of UTF-16 and UTF-32 input, `WideEncoded`, the reference).
@Suite struct JSONParserTests {
    func parse(_ text: String) -> JSONValue? { try? JSONValue.parse(Array(text.utf8)) }

    @Test func readsEveryKindOfValue() throws {
        let value = try JSONValue.parse(Array(#" { "s": "x", "i": -12, "d": 2.5, "t": true, "f": false, "n": null, "a": [1, [], {}] } "#.utf8))
        #expect(value == .object([
            "s": .string("x"), "i": .integer(-12), "d": .number(2.5), "t": .bool(true), "f": .bool(false), "n": .null,
            "a": .array([.integer(1), .array([]), .object([:])]),
        ]))
    }

    @Test func decodesEscapesAndSurrogatePairs() {
        #expect(parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{8} \u{C} \n \r \t"))
        #expect(parse(#""\u00e9\u00C9 caf\u00e9""#) == .string("éÉ café"))
        #expect(parse(#""\ud83d\ude00 and \uD83D\uDE00""#) == .string("😀 and 😀"))
        #expect(parse(#""\uDBFF\uDFFF""#) == .string("\u{10FFFF}"))
        #expect(parse(#""nul \u0000 inside""#) == .string("nul \u{0} inside"))
        #expect(parse("\"raw é and 😀\"") == .string("raw é and 😀"))
        #expect(parse("\"DEL \u{7F} is not a control character here\"") != nil)
    }

    @Test func refusesBrokenStrings() {
        for text in [
            #""\ud800""#, #""\udc00""#, #""\ud83d x""#, #""\ud83d\u0041""#, #""\x""#, #""\U0041""#, #""\u12""#,
            "\"tab\tinside\"", "\"line\nbreak\"", #""unterminated"#, #""\"#,
        ] {
            #expect(parse(text) == nil, "\(text)")
        }
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
                               [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xC3, 0x5C, 0x6E, 0x22], [0x22, 0x5C, 0x6E, 0xA9, 0x22]] {
            #expect((try? JSONValue.parse(bytes)) == nil, "\(bytes)")
        }
    }

    @Test func readsNumbersAsJSONDecoderDid() {
        let cases: [(String, JSONValue)] = [
            ("0", .integer(0)), ("-0", .integer(0)), ("-0.0", .integer(0)), ("1.0", .integer(1)), ("1e2", .integer(100)),
            ("-1.5E+2", .integer(-150)), ("100e-2", .integer(1)), ("1e-400", .integer(0)), ("1.5", .number(1.5)),
            ("2.5e-3", .number(0.0025)), ("9223372036854775807", .integer(.max)), ("-9223372036854775808", .integer(.min)),
            ("9223372036854775808", .number(9_223_372_036_854_775_808)), ("99999999999999999999", .number(1e20)),
            ("9007199254740993.0", .integer(9_007_199_254_740_993)), ("1e18", .integer(1_000_000_000_000_000_000)),
            ("4611686018427387904.5", .number(4_611_686_018_427_387_904)), ("-9223372036854775808.0", .number(-9_223_372_036_854_775_808)),
        ]
        for (text, expected) in cases { #expect(parse(text) == expected, "\(text)") }
        for text in ["01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "1.e1", "[-]", "1e400", "-1e400", "0x10", "NaN", "Infinity"] {
            #expect(parse(text) == nil, "\(text)")
        }
    }

    @Test func firstOfDuplicateKeysWins() {
        #expect(parse(#"{"a":1,"a":2}"#) == .object(["a": .integer(1)]))
        #expect(parse(#"{"secret":"right","secret":"wrong"}"#) == .object(["secret": .string("right")]))
        #expect(parse(#"{"\u0061":1,"a":2}"#) == .object(["a": .integer(1)]))
        // Later values are only scanned, as JSONDecoder did: their contents are not checked.
        #expect(parse("{\"a\":1,\"a\":\"raw \u{1F} control\"}") == .object(["a": .integer(1)]))
        #expect(parse(#"{"a":1,"a":["\x", 1.5.5, --1, {"b":"\uZZZZ"},]}"#) == .object(["a": .integer(1)]))
        #expect(parse(#"{"a":1,"a":[1 2]}"#) == nil)
        #expect(parse(#"{"a":1,"a":tru}"#) == nil)
        #expect(parse(#"{"a":1,"a":"\u12"}"#) == nil)
    }

    @Test func nestingStopsAt512() {
        func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }
        func objects(_ depth: Int) -> String { String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth) }
        #expect(parse(nested(512)) != nil)
        #expect(parse(nested(513)) == nil)
        #expect(parse(objects(512)) != nil)
        #expect(parse(objects(513)) == nil)
        #expect(parse(String(repeating: #"{"a":["#, count: 256) + String(repeating: "]}", count: 256)) != nil)
        #expect(parse(nested(100_000)) == nil)
    }

    @Test func refusesTrailingGarbageButToleratesOneTrailingComma() {
        for text in ["{} x", "{}\u{0}", "[1]x", #"{"a":1}{"#, "[]]", "{}\u{0B}", "\u{0C}{}", "\u{A0}{}", "", "   ", "\u{FEFF}"] {
            #expect(parse(text) == nil, "\(text.debugDescription)")
        }
        for text in ["[,]", "{,}", "[1,,2]", #"{"a":1,,}"#, "[ , ]", "[1 2]", #"{"a"}"#, "{1:2}", "tru", "nulll", "truex"] {
            #expect(parse(text) == nil, "\(text)")
        }
        #expect(parse("[1,]") == .array([.integer(1)]))
        #expect(parse(#"{"a":{"b":1,},"c":[2,],}"#) == .object(["a": .object(["b": .integer(1)]), "c": .array([.integer(2)])]))
        #expect(parse("\u{FEFF} \t\r\n{}\n") == .object([:]))
    }

    @Test func wideEncodingsStillGoThroughJSONDecoder() {
        #expect((try? JSONValue.parse([0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00])) == .object([:]))
        #expect((try? JSONValue.parse([0x5B, 0x00, 0x31, 0x00, 0x5D, 0x00])) == .array([.integer(1)]))
    }

    /// The parser against `JSONDecoder` on hand-picked edge cases, the fuzz corpus, and
    /// thousands of seeded mutations of both: the same decision and value for every UTF-8 input.
    /// Input that is not UTF-8 may be refused where `JSONDecoder` accepted it (it let some
    /// invalid UTF-8 through in object keys), never the other way round.
    @Test func decidesLikeJSONDecoder() throws {
        var inputs: [[UInt8]] = Self.edgeCases.map { Array($0.utf8) }
        let names = try FileManager.default.contentsOfDirectory(atPath: FuzzCorpusTests.corpus.path).sorted()
        for name in names { inputs.append(try [UInt8](Data(contentsOf: FuzzCorpusTests.corpus.appendingPathComponent(name)))) }
        var generator = SeededGenerator(seed: 0x5EED)
        let pieces = Array(#"{}[],:"\ u0 e-+.1 09 truefalsenull ud83d ude00 é"#.utf8) + [0xFF, 0xC3, 0x00, 0x0A, 0x1F]
        let originals = inputs
        for _ in 0..<6_000 {
            var bytes = originals.randomElement(using: &generator)!
            for _ in 0...Int.random(in: 0...3, using: &generator) {
                let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0 where !bytes.isEmpty: bytes.remove(at: position)
                case 1: bytes.insert(pieces.randomElement(using: &generator)!, at: position)
                case 2 where !bytes.isEmpty: bytes[position] = pieces.randomElement(using: &generator)!
                default: bytes = Array(bytes.prefix(position))
                }
            }
            inputs.append(bytes)
        }
        var agreedValid = 0
        for bytes in inputs {
            let ours = try? JSONValue.parse(bytes)
            let reference = try? JSONDecoder().decode(WideEncoded.self, from: Data(bytes)).value
            let shown = "\(String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription) \(bytes.prefix(40))"
            if String(validating: bytes, as: UTF8.self) != nil {
                #expect(ours == reference, "\(shown)")
            } else if ours != nil {
                #expect(ours == reference, "\(shown)")
            }
            if ours != nil && ours == reference { agreedValid += 1 }
        }
        #expect(agreedValid > 300, "too few inputs were valid JSON to compare values")
    }

    static let edgeCases: [String] = [
        "1", "-0", "-0.0", "1.0", "1e2", "1E2", "1.5", "1e400", "-1e400", "1e-400", "99999999999999999999",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "0.1e1", "01",
        "1.", ".5", "+1", "-", "1e", "1e+", "2.5e-3", "123456789012345678901234567890.0", "1.0000000000000001",
        "9007199254740993.0", "9007199254740993", "-9223372036854775808.0", "9.223372036854775807e18", "1e19", "1e18",
        "4611686018427387904.5", "0e0", "-0e0", "100e-2", "1.25e1", "0.5e1", "5e-1", "0.000000000000000000001e40",
        #""\ud800""#, #""\udc00""#, #""\ud83d\ude00""#, #""\ud83d x""#, #""\u0000""#, "\"a\u{1}b\"", #""\/""#,
        #""\x""#, #""\U0041""#, #""\u00e9""#, #""\uD83D\uDE00""#, #""\ud83d\u0041""#, #""\uDBFF\uDFFF""#,
        #"{"a":1,"a":2}"#, #"{"a":1,"a":"x"}"#, "[1,]", #"{"a":1,}"#, " [ ] ", "\u{FEFF}{}", "{} x", "{}\u{0}",
        "\t\n\r {}", #"{"a" : [ true , false , null ] }"#, "tru", "nul", "truex", "[1 2]", #"{"a"}"#, "{1:2}",
        "\"\u{7F}\"", "\"é\"", "[,]", "{,}", "[1,,2]", #"{"a":1,,}"#, "[[1,],]", #"{"":1}"#, "[1,2", "\"abc",
        String(repeating: "[", count: 512) + String(repeating: "]", count: 512),
        String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
    ]
}

/// SplitMix64: the same mutations on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
