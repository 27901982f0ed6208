import Foundation
import Testing
@testable import Spool

@Suite struct TaskRequestValidationTests {
    @Test func acceptsTheProtocolExample() throws {
        let request = try Fixtures.request()
        #expect(request.email == "student@example.com")
        #expect(request.round == 1)
        #expect(request.attachments == [Attachment(name: "sample.png", url: "data:image/png;base64,iVBORw0KGgo=")])
        #expect(request.checks.count == 2)
    }

    @Test func ignoresUnknownFields() throws {
        let request = try Fixtures.request(["extra": ["nested": true], "priority": 3])
        #expect(request.task == "captcha-solver-3f2a1")
    }

    /// Each case: a change to a valid body, the field the error must name, and words its reason must contain.
    nonisolated(unsafe) static let refusals: [(String, [String: Any?], String, String)] = [
        ("email missing", ["email": nil], "email", "missing"),
        ("email number", ["email": 42], "email", "string"),
        ("email without @", ["email": "student.example.com"], "email", "e-mail"),
        ("email null", ["email": NSNull()], "email", "missing"),
        ("task missing", ["task": nil], "task", "missing"),
        ("task empty", ["task": ""], "task", "empty"),
        ("task array", ["task": ["a"]], "task", "string"),
        ("task with newline", ["task": "a\nb"], "task", "control"),
        ("task too long", ["task": String(repeating: "t", count: 300)], "task", "at most"),
        ("round missing", ["round": nil], "round", "missing"),
        ("round zero", ["round": 0], "round", "integer from 1"),
        ("round negative", ["round": -2], "round", "integer from 1"),
        ("round fraction", ["round": 1.5], "round", "integer"),
        ("round string", ["round": "1"], "round", "integer"),
        ("round boolean", ["round": true], "round", "integer"),
        ("round huge", ["round": 1e300], "round", "integer"),
        ("nonce missing", ["nonce": nil], "nonce", "missing"),
        ("nonce object", ["nonce": ["a": 1]], "nonce", "string"),
        ("brief missing", ["brief": nil], "brief", "missing"),
        ("brief blank", ["brief": "  \n "], "brief", "empty"),
        ("checks missing", ["checks": nil], "checks", "missing"),
        ("checks string", ["checks": "x"], "checks", "array"),
        ("checks element number", ["checks": ["ok", 3]], "checks[1]", "string"),
        ("evaluation_url missing", ["evaluation_url": nil], "evaluation_url", "missing"),
        ("evaluation_url relative", ["evaluation_url": "/notify"], "evaluation_url", "absolute"),
        ("evaluation_url ftp", ["evaluation_url": "ftp://example.com/x"], "evaluation_url", "http"),
        ("evaluation_url javascript", ["evaluation_url": "javascript:alert(1)"], "evaluation_url", "http"),
        ("evaluation_url no host", ["evaluation_url": "http:///x"], "evaluation_url", "host"),
        ("evaluation_url space", ["evaluation_url": "http://exa mple.com/"], "evaluation_url", "spaces"),
        ("evaluation_url IPv6 loopback", ["evaluation_url": "http://[::1]:8000/n"], "evaluation_url", "IPv6"),
        ("evaluation_url IPv6 public", ["evaluation_url": "http://[2001:4860:4860::8888]/x"], "evaluation_url", "IPv6"),
        ("evaluation_url IPv6 metadata", ["evaluation_url": "http://[fd00:ec2::254]/latest"], "evaluation_url", "IPv6"),
        ("evaluation_url decimal IPv4", ["evaluation_url": "http://2130706433:8000/n"], "evaluation_url", "four decimal numbers"),
        ("evaluation_url hex IPv4", ["evaluation_url": "http://0x7f.1:8000/n"], "evaluation_url", "four decimal numbers"),
        ("evaluation_url octal IPv4", ["evaluation_url": "http://0177.0.0.1/n"], "evaluation_url", "four decimal numbers"),
        ("evaluation_url short IPv4", ["evaluation_url": "http://127.1/n"], "evaluation_url", "four decimal numbers"),
        ("evaluation_url metadata address", ["evaluation_url": "http://169.254.169.254/latest/meta-data/"], "evaluation_url", "metadata"),
        ("evaluation_url metadata name", ["evaluation_url": "http://Metadata.Google.Internal./computeMetadata/v1/"], "evaluation_url", "metadata"),
        ("evaluation_url encoded host", ["evaluation_url": "http://%31%32%37.0.0.1/n"], "evaluation_url", "percent"),
        ("attachments missing", ["attachments": nil], "attachments", "missing"),
        ("attachments object", ["attachments": ["name": "a"]], "attachments", "array"),
        ("attachment not object", ["attachments": ["a.txt"]], "attachments[0]", "object"),
        ("attachment name missing", ["attachments": [["url": "data:,x"]]], "attachments[0].name", "missing"),
        ("attachment url missing", ["attachments": [["name": "a.txt"]]], "attachments[0].url", "missing"),
        ("attachment name traversal", ["attachments": [["name": "../etc/passwd", "url": "data:,x"]]], "attachments[0].name", ".."),
        ("attachment name slash", ["attachments": [["name": "a/b.txt", "url": "data:,x"]]], "attachments[0].name", "separator"),
        ("attachment name backslash", ["attachments": [["name": "a\\b.txt", "url": "data:,x"]]], "attachments[0].name", "separator"),
        ("attachment name NUL", ["attachments": [["name": "a\u{0}.txt", "url": "data:,x"]]], "attachments[0].name", "control"),
        ("attachment name escape", ["attachments": [["name": "a\u{1B}[31m.txt", "url": "data:,x"]]], "attachments[0].name", "control"),
        ("attachment name bidi", ["attachments": [["name": "gpj\u{202E}.exe", "url": "data:,x"]]], "attachments[0].name", "bidirectional"),
        ("attachment name dot", ["attachments": [["name": ".", "url": "data:,x"]]], "attachments[0].name", "file name"),
        ("attachment name .git", ["attachments": [["name": ".GIT", "url": "data:,x"]]], "attachments[0].name", ".git"),
        ("attachment name empty", ["attachments": [["name": "", "url": "data:,x"]]], "attachments[0].name", "empty"),
        ("attachment name long", ["attachments": [["name": String(repeating: "n", count: 201), "url": "data:,x"]]], "attachments[0].name", "at most"),
        ("attachment names repeat", ["attachments": [["name": "a.txt", "url": "data:,x"], ["name": "A.TXT", "url": "data:,y"]]], "attachments[1].name", "repeats"),
        ("data URI bad base64", ["attachments": [["name": "a.png", "url": "data:image/png;base64,@@@@"]]], "attachments[0].url", "base64"),
        ("data URI impossible length", ["attachments": [["name": "a.png", "url": "data:image/png;base64,QUJDR"]]], "attachments[0].url", "length"),
        ("data URI without comma", ["attachments": [["name": "a.png", "url": "data:image/png;base64"]]], "attachments[0].url", "comma"),
        ("data URI bad media type", ["attachments": [["name": "a.png", "url": "data:image png;base64,QUJD"]]], "attachments[0].url", "media type"),
        ("data URI bad percent", ["attachments": [["name": "a.txt", "url": "data:text/plain,50%zz"]]], "attachments[0].url", "percent"),
        ("attachment url file scheme", ["attachments": [["name": "a.txt", "url": "file:///etc/passwd"]]], "attachments[0].url", "http"),
    ]

    @Test(arguments: refusals.indices)
    func refuses(_ index: Int) throws {
        let (label, change, field, words) = Self.refusals[index]
        do {
            _ = try Fixtures.request(change)
            Issue.record("\(label): accepted")
        } catch let error as RequestError {
            #expect(error.field == field, "\(label)")
            #expect(error.reason.contains(words), "\(label): \(error.reason)")
        }
    }

    @Test func refusesNonObjectBodies() {
        for text in ["[]", "\"x\"", "42", "null", "true"] {
            #expect(throws: RequestError(field: "body", reason: "must be a JSON object, not \(try! JSONValue.parse(Array(text.utf8)).typeName)")) {
                try TaskRequest(validating: JSONValue.parse(Array(text.utf8)))
            }
        }
    }

    @Test func refusesMalformedJSON() {
        for text in ["", "{", "{\"email\":}", "{'a':1}", "{\"a\":1}garbage", "\u{FF}\u{FE}"] {
            #expect(throws: RequestError(field: "body", reason: "is not valid JSON")) {
                try JSONValue.parse(Array(text.utf8))
            }
        }
    }

    /// Deeply nested but well-formed JSON is refused (or decoded), never a stack overflow.
    @Test func deepNestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: RequestError.self) { try TaskRequest(validating: JSONValue.parse(Array(deep.utf8))) }
    }

    @Test func acceptsAttachmentVariants() throws {
        let request = try Fixtures.request([
            "attachments": [
                ["name": "plain.txt", "url": "data:,Hello%2C%20World"],
                ["name": "unpadded.bin", "url": "data:application/octet-stream;base64,QUJDRA"],
                ["name": "wrapped.csv", "url": "data:text/csv;charset=utf-8;base64,YSxi\nLGMK"],
                ["name": "remote.json", "url": "https://example.com/data.json"],
                ["name": "naïve café.md", "url": "data:text/markdown,%23%20Hi"],
            ]
        ])
        #expect(request.attachments.count == 5)
    }

    @Test func spoolFileRoundTripsWithTimestamp() throws {
        var request = try Fixtures.request()
        request.receivedAt = Date(timeIntervalSince1970: 1_790_000_000)
        let decoded = try TaskRequest.decodeSpoolFile(request.encoded())
        #expect(decoded == request)
        let text = String(decoding: try request.encoded(), as: UTF8.self)
        #expect(!text.contains("secret"))
    }

    @Test func spoolFileRefusesBadTimestamp() throws {
        var object = try JSONSerialization.jsonObject(with: Fixtures.body()) as! [String: Any]
        object["received_at"] = "yesterday"
        let data = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: RequestError.self) { try TaskRequest.decodeSpoolFile(data) }
    }
}
