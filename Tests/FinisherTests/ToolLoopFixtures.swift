import Foundation
import Spool
import TestSupport
@testable import Fetch
@testable import Finisher

/// What the tool-loop tests share: a generator with the tool loop on, a loopback fixture server
/// for `fetch_url`, a real `.xlsx` built by Python's `zipfile`, and readers for the requests the
/// OpenAI stub recorded.
enum ToolLoopFixtures {
    /// A Chat Completions generator for `peer` with the tool loop on, `allow` as the operator's
    /// `LLM_DEPLOY_FETCH_ALLOW`, and `adjust` applied to its settings.
    static func generator(
        _ peer: Peer, key: String, logs: LogRecorder, allow: String = "", contact: String? = nil, adjust: (inout ToolLoopSettings) -> Void = { _ in }
    ) throws -> ChatCompletionsGenerator {
        var settings = ToolLoopSettings(allowlist: try FetchAllowlist(parsing: allow), contact: contact)
        settings.fetcher.timeout = 15
        adjust(&settings)
        var generator = GeneratorFixtures.generator(peer, key: key, logs: logs)
        generator.tools = settings
        return generator
    }

    /// A `tool_calls` script step: `(id, name, arguments)` per call.
    static func calls(_ calls: [(String, String, [String: Any])], expect: [String: Any]? = nil) -> [String: Any] {
        var step: [String: Any] = ["tool_calls": calls.map { ["id": $0.0, "name": $0.1, "arguments": $0.2] }]
        if let expect { step["expect"] = expect }
        return step
    }

    /// The `tool` messages of a recorded request, by `tool_call_id`.
    static func toolResults(_ record: [String: Any]) -> [String: String] {
        let body = record["body"] as? [String: Any] ?? [:]
        var results: [String: String] = [:]
        for message in body["messages"] as? [[String: Any]] ?? [] where message["role"] as? String == "tool" {
            if let id = message["tool_call_id"] as? String { results[id] = message["content"] as? String ?? "" }
        }
        return results
    }

    /// The tool names a recorded request offered.
    static func offeredTools(_ record: [String: Any]) -> [String] {
        let body = record["body"] as? [String: Any] ?? [:]
        return (body["tools"] as? [[String: Any]] ?? []).compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
    }

    /// Runs `python3 -c program arguments…` and returns its standard output.
    static func python(_ program: String, _ arguments: [String]) throws -> String {
        guard let python = Paths.which("python3") else { throw HTTPClient.Failure(description: "python3 is not installed") }
        return try commandOutput(python, ["-c", program] + arguments)
    }

    /// A ZIP archive of `parts` (name, text) in order, deflated, written by Python's `zipfile`:
    /// an independent writer, as Excel's files come from one.
    static func zip(_ parts: [(String, String)]) throws -> Data {
        let directory = Paths.temporaryDirectory("xlsx")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifest = "\(directory)/parts.json"
        let output = "\(directory)/book.xlsx"
        try JSONSerialization.data(withJSONObject: parts.map { [$0.0, $0.1] }).write(to: URL(fileURLWithPath: manifest))
        _ = try python("""
            import json, sys, zipfile
            parts = json.load(open(sys.argv[1], encoding="utf-8"))
            with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as archive:
                for name, text in parts:
                    archive.writestr(name, text.encode("utf-8"))
            """, [manifest, output])
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    static let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    static let relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    /// An Excel-shaped workbook: content types, package relationships, `xl/workbook.xml` naming
    /// `sheets` (name, target under `xl/`) in order, their relationships, the worksheets and,
    /// when given, `xl/sharedStrings.xml`.
    static func workbook(
        sheets: [(name: String, target: String, xml: String)], sharedStrings: [String]? = nil, properties: String = "", extra: [(String, String)] = []
    ) throws -> Data {
        let header = #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"# + "\n"
        var parts: [(String, String)] = [
            ("[Content_Types].xml", header + #"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#),
            ("_rels/.rels", header + #"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
        ]
        let listed = sheets.enumerated().map { #"<sheet name="\#($1.name)" sheetId="\#($0 + 1)" r:id="rId\#($0 + 1)"/>"# }.joined()
        parts.append(("xl/workbook.xml", header + #"<workbook xmlns="\#(main)" xmlns:r="\#(relationships)">\#(properties)<sheets>\#(listed)</sheets></workbook>"#))
        let rels = sheets.enumerated().map {
            #"<Relationship Id="rId\#($0 + 1)" Type="\#(relationships)/worksheet" Target="\#($1.target)"/>"#
        }.joined()
        parts.append(("xl/_rels/workbook.xml.rels", header + #"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\#(rels)</Relationships>"#))
        for sheet in sheets {
            parts.append(("xl/" + sheet.target, header + #"<worksheet xmlns="\#(main)" xmlns:r="\#(relationships)"><sheetData>\#(sheet.xml)</sheetData></worksheet>"#))
        }
        if let sharedStrings {
            parts.append(("xl/sharedStrings.xml", header + #"<sst xmlns="\#(main)" count="\#(sharedStrings.count)" uniqueCount="\#(sharedStrings.count)">\#(sharedStrings.joined())</sst>"#))
        }
        return try zip(parts + extra)
    }

    /// The scores workbook: shared strings (one rich, one with a phonetic hint), inline
    /// strings with a comma, quotes and a line break, numbers, booleans, a formula, a string
    /// formula, a gap in a row, a missing row, and a row whose cells carry no reference.
    static func scoresWorkbook() throws -> Data {
        let rows = """
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>\
            <c r="D1" t="inlineStr"><is><t>comment, "quoted"</t></is></c></row>
            <row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" s="1"><v>95.5</v></c><c r="C2" t="b"><v>1</v></c>\
            <c r="D2" t="inlineStr"><is><t>line1
            line2</t></is></c></row>
            <row r="3"><c r="A3" t="s"><v>4</v></c><c r="B3" s="2"/><c r="C3" t="b"><v>0</v></c></row>
            <row r="5"><c r="A5" t="s"><v>5</v></c><c r="B5"><f>B2*2</f><v>191</v></c><c r="D5" t="str"><f>"o"&amp;"k"</f><v>ok</v></c></row>
            <row><c t="s"><v>0</v></c><c><v>-7.25E-3</v></c></row>
            """
        let strings = [
            "<si><t>name</t></si>", "<si><t>score</t></si>", "<si><t>passed</t></si>", "<si><t>Ada</t></si>",
            #"<si><t xml:space="preserve">Bob </t></si>"#,
            #"<si><r><rPr><b/></rPr><t>Cy</t></r><r><t>d</t></r><rPh sb="0" eb="1"><t>シ</t></rPh></si>"#,
        ]
        return try workbook(sheets: [("Scores", "worksheets/sheet1.xml", rows)], sharedStrings: strings)
    }

    /// `scoresWorkbook()`'s first sheet as CSV.
    static let scoresCSV = #"""
        name,score,passed,"comment, ""quoted"""
        Ada,95.5,TRUE,"line1
        line2"
        Bob ,,FALSE,
        ,,,
        Cyd,191,,ok
        name,-7.25E-3,,

        """#
}

/// A loopback HTTP server for `fetch_url` tests (Python's `ThreadingHTTPServer`, started as a
/// subprocess): serves files from a directory, `/redirect?to=URL` (302), `/slow?s=N`,
/// `/big?n=N` and `/huge` (declares a 10 GB body), a 302 for a path whose `PATH.redirect` file
/// names the target, a directory's `index.json` for its own path, and records every request's path and headers at `/_fixture/requests`.
final class FixtureServer: @unchecked Sendable {
    let server: Peer
    let root: String

    var port: Int { server.port }

    /// Starts the server over a new directory holding `files`.
    init(files: [String: String]) throws {
        root = Paths.temporaryDirectory("fixture")
        for (name, text) in files {
            let file = URL(fileURLWithPath: "\(root)/\(name)")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        server = try Peer(python: ["-c", Self.program, root], label: "the fixture server")
    }

    deinit { stop() }

    /// `http://127.0.0.1:PORT`.
    var url: String { "http://127.0.0.1:\(port)" }

    /// Stops the server and removes its directory.
    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Every request served so far: `path` and `headers`.
    func requests() throws -> [[String: Any]] {
        let response = try HTTPClient.send(port: port, method: "GET", path: "/_fixture/requests")
        return (try JSONSerialization.jsonObject(with: response.body) as? [[String: Any]]) ?? []
    }

    private static let program = #"""
        import http.server, json, os, sys, threading, time, urllib.parse
        root = sys.argv[1]
        records, lock = [], threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, content_type, headers=()):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                if url.path == "/_fixture/requests":
                    with lock:
                        body = json.dumps(records).encode()
                    return self.reply(200, body, "application/json")
                with lock:
                    records.append({"path": self.path, "headers": dict(self.headers.items())})
                if url.path == "/redirect":
                    return self.reply(302, b"", "text/plain", [("Location", query["to"][0])])
                if url.path == "/slow":
                    time.sleep(float(query.get("s", ["10"])[0]))
                    return self.reply(200, b"late", "text/plain")
                if url.path == "/big":
                    return self.reply(200, b"x" * int(query["n"][0]), "text/plain")
                if url.path == "/huge":
                    # Declares 10 GB and sends a little: a client must not trust it will fit.
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(10 * 1024 ** 3))
                    self.end_headers()
                    try:
                        self.wfile.write(b"[" + b"0," * 1000)
                        self.wfile.flush()
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                path = os.path.join(root, url.path.lstrip("/"))
                if os.path.isdir(path):
                    path = os.path.join(path, "index.json")
                if os.path.isfile(path + ".redirect"):
                    with open(path + ".redirect", encoding="utf-8") as handle:
                        return self.reply(302, b"", "text/plain", [("Location", handle.read().strip())])
                if os.path.isfile(path):
                    kind = "application/json" if path.endswith(".json") else "application/octet-stream"
                    with open(path, "rb") as handle:
                        return self.reply(200, handle.read(), kind)
                self.reply(404, b'{"error": "not found"}', "application/json")

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        print("READY %d" % server.server_address[1], flush=True)
        server.serve_forever()
        """#
}
