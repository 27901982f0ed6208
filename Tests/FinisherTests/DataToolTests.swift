import Foundation
import Spool
import Testing
import TestSupport
@testable import Fetch
@testable import Finisher
@testable import Spreadsheet

/// Deterministic data tools: `convert_file` (a real multi-sheet `.xlsx` written by Python's
/// `zipfile`, with dates), declarative sources in the single answer, `fetch_url` with
/// `save_as` (the body verbatim) and `read_file` by range, against the scripted stub and a
/// loopback fixture server.
struct DataToolTests {
    typealias F = GeneratorFixtures
    typealias T = ToolLoopFixtures

    static let xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    /// Styles: 0 General, 1 built-in date (14), 2 a custom date and time, 3 built-in time (20), 4 `#,##0.00`.
    static let styles = #"""
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\-mm\-dd&quot; at &quot;hh:mm;@"/></numFmts><cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="20" applyNumberFormat="1"/><xf numFmtId="4" applyNumberFormat="1"/></cellXfs></styleSheet>
        """#

    /// Two sheets: "Summary" (no dates) first, "Sales" second with dates, times and amounts.
    static func salesWorkbook() throws -> Data {
        let summary = #"<row r="1"><c r="A1" t="inlineStr"><is><t>total</t></is></c></row><row r="2"><c r="A2"><v>1235.75</v></c></row>"#
        let sales = """
            <row r="1"><c r="A1" t="inlineStr"><is><t>day</t></is></c><c r="B1" t="inlineStr"><is><t>when</t></is></c>\
            <c r="C1" t="inlineStr"><is><t>time</t></is></c><c r="D1" t="inlineStr"><is><t>amount</t></is></c></row>\
            <row r="2"><c r="A2" s="1"><v>45352</v></c><c r="B2" s="2"><v>45352.5</v></c><c r="C2" s="3"><v>0.75</v></c><c r="D2" s="4"><v>1234.5</v></c></row>\
            <row r="3"><c r="A3" s="1"><v>1</v></c><c r="B3" s="2"><v>61</v></c><c r="C3" s="3"><v>0.5</v></c><c r="D3" s="4"><v>1.25</v></c></row>
            """
        return try T.workbook(
            sheets: [("Summary", "worksheets/sheet1.xml", summary), ("Sales", "worksheets/sheet2.xml", sales)],
            extra: [("xl/styles.xml", styles)])
    }

    static let salesCSV = "day,when,time,amount\n2024-03-01,2024-03-01T12:00:00,18:00:00,1234.5\n1900-01-01,1900-03-01,12:00:00,1.25\n"
    static let salesJSON = """
        [
          {"day": "2024-03-01", "when": "2024-03-01T12:00:00", "time": "18:00:00", "amount": 1234.5},
          {"day": "1900-01-01", "when": "1900-03-01", "time": "12:00:00", "amount": 1.25}
        ]

        """

    @Test func everySheetIsReachableAndDatesAreISODates() throws {
        let workbook = try Self.salesWorkbook()
        let reader = SpreadsheetReader()
        #expect(try reader.sheetNames(of: workbook) == ["Summary", "Sales"])
        #expect(try reader.firstSheet(of: workbook).csv == "total\n1235.75\n")
        #expect(try reader.sheet("sales", of: workbook).csv == Self.salesCSV)
        #expect(try reader.sheet("2", of: workbook).csv == Self.salesCSV)
        #expect(throws: SpreadsheetError.noSuchSheet("Costs", available: ["Summary", "Sales"])) { try reader.sheet("Costs", of: workbook) }
        #expect(DateFormat.iso(serial: 0, dateShown: true, date1904: true) == "1904-01-01")
        #expect(DateFormat.iso(serial: 60, dateShown: true, date1904: false) == nil, "Excel's 29 February 1900 is no date")
        #expect(DateFormat.kind(id: 164, code: "#,##0.00\" days\"") == nil)
        #expect(DateFormat.kind(id: 165, code: "[h]:mm:ss") == false)
    }

    @Test func csvAndJSONConvertBothWays() throws {
        let tables = TableConverter()
        let csv = "name,score,note\nAda,95.5,\"says \"\"hi\"\", twice\"\nBob,007,\n"
        let json = try tables.json(fromCSV: csv)
        #expect(json.json == "[\n  {\"name\": \"Ada\", \"score\": 95.5, \"note\": \"says \\\"hi\\\", twice\"},\n  {\"name\": \"Bob\", \"score\": \"007\", \"note\": \"\"}\n]\n")
        let back = try tables.csv(fromJSON: Data(#"{"rows": [{"b": true, "a": 1.5, "c": null}, {"a": 2, "b": "x,y"}]}"#.utf8))
        #expect(back.csv == "a,b,c\n1.5,true,\n2,\"x,y\",\n")
        #expect(throws: SpreadsheetError.notATable("the CSV ends inside a quoted field (a quote is not closed)")) { try tables.json(fromCSV: "a\n\"open") }
    }

    @Test func convertFileWritesExactDataAndRefusesWhatItCannotConvert() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let workbook = try Self.salesWorkbook()
        let attachments = [
            ReceivedAttachment(name: "sales.xlsx", mediaType: Self.xlsxType, bytes: workbook),
            ReceivedAttachment(name: "notes.xlsx", mediaType: Self.xlsxType, bytes: Data("just text, not a workbook".utf8)),
        ]
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([("c1", "convert_file", ["source": "sales.xlsx", "destination": "data/sales.csv", "sheet": "Sales"]),
                     ("c2", "convert_file", ["source": "sales.xlsx", "destination": "summary.csv"]),
                     ("c3", "convert_file", ["source": "notes.xlsx", "destination": "notes.csv"]),
                     ("c4", "convert_file", ["source": "sales.xlsx", "destination": "../out.csv", "sheet": "Sales"]),
                     ("c5", "convert_file", ["source": "sales.xlsx", "destination": "x.csv", "sheet": "Costs"])]),
            T.calls([("c6", "convert_file", ["source": "data/sales.csv", "destination": "data/sales.json"]),
                     ("c7", "convert_file", ["source": "data/sales.csv", "destination": "sales.txt"]),
                     ("c8", "write_file", ["path": "index.html", "content": GeneratorTests.page])]),
            T.calls([("c9", "finish", ["summary": "Converted."])]),
        ]])
        let brief = F.brief(text: "Convert the Sales sheet of sales.xlsx to data/sales.csv and data/sales.json.", attachments: attachments)
        let report = try await T.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 30)

        #expect(F.text(report.tree) == [
            "data/sales.csv": Self.salesCSV, "data/sales.json": Self.salesJSON, "summary.csv": "total\n1235.75\n", "index.html": GeneratorTests.page,
        ])
        let requests = try F.completions(stub)
        let results = T.toolResults(try #require(requests.last))
        #expect(results["c1"]?.hasPrefix("Wrote data/sales.csv (\(Self.salesCSV.utf8.count) bytes) from sales.xlsx: sheet \"Sales\" (3 rows × 4 columns) as CSV.") == true)
        #expect(results["c2"]?.contains("The workbook's sheets: \"Summary\", \"Sales\"") == true)
        #expect(results["c3"]?.hasPrefix("Refused: notes.xlsx: not a readable .xlsx workbook") == true)
        #expect(results["c4"]?.hasPrefix("Refused: path \"../out.csv\"") == true)
        #expect(results["c5"]?.contains("no sheet \"Costs\"; its sheets are \"Summary\", \"Sales\"") == true)
        #expect(results["c7"]?.hasPrefix("Refused: cannot convert data/sales.csv to sales.txt") == true)
        #expect(requests.allSatisfy { T.offeredTools($0).contains("convert_file") })
    }

    @Test func aSingleAnswerNamesASourceInsteadOfRetypingIt() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let workbook = try Self.salesWorkbook()
        let first: [String: Any] = ["summary": "s", "delete": [], "files": [
            ["path": "index.html", "content": GeneratorTests.page, "encoding": NSNull(), "from": NSNull()],
            ["path": "data.csv", "content": "", "encoding": NSNull(), "from": "missing.xlsx"],
        ]]
        let second: [String: Any] = ["summary": "s", "delete": [], "files": [
            ["path": "index.html", "content": GeneratorTests.page, "encoding": NSNull(), "from": NSNull()],
            ["path": "data.csv", "content": "", "encoding": NSNull(), "from": "sales.xlsx", "sheet": "Sales"],
            ["path": "data.json", "from": "sales.xlsx", "sheet": "2"],
        ]]
        let stub = try F.stub(key: key, script: ["steps": [
            ["expect": ["response_format": "json_schema", "system_contains": "\"from\": \"data.xlsx\"",
                        "last_user_contains": "Its sheets: \"Summary\", \"Sales\". Its first sheet, \"Summary\""], "content": first],
            ["expect": ["last_user_contains": "\"missing.xlsx\", which is neither an attachment nor a file of the repository"], "content": second],
        ]])
        let brief = F.brief(text: "Convert the Sales sheet to data.csv.", attachments: [ReceivedAttachment(name: "sales.xlsx", mediaType: Self.xlsxType, bytes: workbook)])
        let report = try await F.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 20)
        #expect(F.text(report.tree) == ["index.html": GeneratorTests.page, "data.csv": Self.salesCSV, "data.json": Self.salesJSON])
        #expect(try F.completions(stub).count == 2)
    }

    @Test func fetchURLSavesTheBodyVerbatimAndTheEndIsReadable() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        // About 200 KB of chronological entries: the most recent are at the end.
        let entries = (0..<4000).map { #"{"day": \#($0), "filing": "10-K/A \#(String(repeating: "x", count: 20))", "value": \#($0 * 7)}"# }
        let history = "[\n" + entries.joined(separator: ",\n") + "\n]\n"
        #expect(history.utf8.count > 200_000)
        let fixture = try FixtureServer(files: ["history.json": history])
        defer { fixture.stop() }
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([("c1", "fetch_url", ["url": "\(fixture.url)/history.json", "save_as": "data/history.json"]),
                     ("c2", "fetch_url", ["url": "\(fixture.url)/history.json", "save_as": "../../escape.json"]),
                     ("c3", "fetch_url", ["url": "\(fixture.url)/huge", "save_as": "huge.json"]),
                     ("c4", "fetch_url", ["url": "\(fixture.url)/nothing.json", "save_as": "nothing.json"])]),
            T.calls([("c5", "read_file", ["path": "data/history.json", "offset": -1024]),
                     ("c6", "read_file", ["path": "data/history.json", "start_line": 4001, "end_line": 4002]),
                     ("c7", "read_file", ["path": "data/history.json", "offset": "ten"]),
                     ("c8", "write_file", ["path": "index.html", "content": GeneratorTests.page])]),
            T.calls([("c9", "finish", ["summary": "Saved the history."])]),
        ]])
        let brief = F.brief(text: "Fetch the filing history and commit it as data/history.json.")
        let generator = try T.generator(stub, key: key, logs: LogRecorder(), allow: "127.0.0.1:\(fixture.port)", contact: "ops@example.com")
        let report = try await generator.generate(brief, budget: 60)

        #expect(report.tree["data/history.json"] == Data(history.utf8))
        #expect(Set(report.tree.keys) == ["data/history.json", "index.html"], "refused fetches wrote nothing")
        let results = T.toolResults(try #require(try F.completions(stub).last))
        #expect(results["c1"]?.hasPrefix("Saved \(history.utf8.count) bytes from \(fixture.url)/history.json (HTTP 200") == true)
        #expect((results["c1"]?.count ?? .max) < 2_600, "the body does not pass through the model")
        #expect(results["c2"]?.hasPrefix("Refused: path \"../../escape.json\"") == true)
        #expect(results["c3"]?.contains("larger than the \(8 << 20)-byte limit (it declares 10737418240 bytes)") == true)
        #expect(results["c4"]?.hasPrefix("Failed: HTTP 404") == true)
        let tail = try #require(results["c5"])
        #expect(tail.hasPrefix("Bytes \(history.utf8.count - 1024)–\(history.utf8.count) of \(history.utf8.count) of data/history.json:\n"))
        #expect(tail.hasSuffix(entries.last! + "\n]\n"))
        #expect(results["c6"] == "Lines 4001–4002 of 4002 of data/history.json:\n" + entries.last! + "\n]\n")
        #expect(results["c7"] == "Refused: read_file's \"offset\" must be an integer")

        // Two GETs of history.json reached the fixture (the escape was refused before fetching),
        // with the operator's contact in the User-Agent.
        let served = try fixture.requests()
        #expect(served.map { $0["path"] as? String } == ["/history.json", "/huge", "/nothing.json"])
        let agent = (served.first?["headers"] as? [String: String])?.first { $0.key.lowercased() == "user-agent" }?.value
        #expect(agent?.contains("contact: ops@example.com") == true)
    }

    @Test func anUnusableContactIsAConfigurationError() {
        for contact in ["ops@example.com\r\nX-Injected: 1", String(repeating: "a", count: 201)] {
            #expect(throws: ConfigurationError.self) {
                try GeneratorSelection.make(environment: ServiceEnvironment(["OPENAI_API_KEY": "k", "LLM_DEPLOY_CONTACT": contact]), logger: LogRecorder().logger)
            }
        }
    }
}
