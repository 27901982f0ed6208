import Foundation
import Spool
import Testing
import TestSupport
@testable import Finisher
@testable import Spreadsheet

/// `.xlsx` → CSV on workbooks written by Python's `zipfile` with Excel's part layout.
struct SpreadsheetReaderTests {
    typealias T = ToolLoopFixtures

    @Test func theFirstSheetBecomesRFC4180CSVWithGapsKept() throws {
        let sheet = try SpreadsheetReader().firstSheet(of: T.scoresWorkbook())
        #expect(sheet.name == "Scores")
        #expect(sheet.csv == T.scoresCSV)
        #expect(sheet.rows == 6 && sheet.columns == 4)
    }

    @Test func theFirstSheetIsFoundThroughTheWorkbookRelationships() throws {
        // The workbook lists "Summary" first, stored as sheet2.xml; sheet1.xml is the second sheet.
        let book = try T.workbook(sheets: [
            ("Summary", "worksheets/sheet2.xml", #"<row r="1"><c r="A1" t="inlineStr"><is><t>first</t></is></c></row>"#),
            ("Detail", "worksheets/sheet1.xml", #"<row r="1"><c r="A1" t="inlineStr"><is><t>second</t></is></c></row>"#),
        ])
        let sheet = try SpreadsheetReader().firstSheet(of: book)
        #expect(sheet.name == "Summary")
        #expect(sheet.csv == "first\n")
    }

    @Test func excelEscapesAndColumnLettersAreDecoded() {
        #expect(SpreadsheetReader.unescaped("a_x000D__x000A_b_x005F_x0041_") == "a\r\nb_x0041_")
        #expect(SpreadsheetReader.unescaped("no_xescape_") == "no_xescape_")
        #expect(SpreadsheetReader.columnIndex("A") == 1)
        #expect(SpreadsheetReader.columnIndex("Z") == 26)
        #expect(SpreadsheetReader.columnIndex("AA") == 27)
        #expect(SpreadsheetReader.columnIndex("XFD") == 16_384)
        #expect(SpreadsheetReader.columnIndex("XFE") == nil)
        #expect(SpreadsheetReader.field("plain text") == "plain text")
        #expect(SpreadsheetReader.field("a,b") == "\"a,b\"")
        #expect(SpreadsheetReader.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(SpreadsheetReader.field("two\r\nlines") == "\"two\r\nlines\"")
    }

    @Test func unreadableWorkbooksSayWhy() throws {
        #expect(throws: SpreadsheetError.self) { try SpreadsheetReader().firstSheet(of: Data("name,score\n".utf8)) }
        let notAWorkbook = try T.zip([("word/document.xml", "<document/>")])
        #expect(throws: SpreadsheetError.missingPart("xl/workbook.xml")) { try SpreadsheetReader().firstSheet(of: notAWorkbook) }
        let badReference = try T.workbook(sheets: [("S", "worksheets/sheet1.xml", #"<row r="1"><c r="A1" t="s"><v>9</v></c></row>"#)],
                                          sharedStrings: ["<si><t>only</t></si>"])
        do {
            _ = try SpreadsheetReader().firstSheet(of: badReference)
            Issue.record("a reference to a missing shared string was accepted")
        } catch {
            #expect(error.description.contains("shared string 9 of 1"))
        }
        let broken = try T.zip([("xl/workbook.xml", "<workbook><sheets><sheet name=\"S\"></sheets></workbook>")])
        do {
            _ = try SpreadsheetReader().firstSheet(of: broken)
            Issue.record("malformed XML was accepted")
        } catch {
            #expect(error.description.contains("xl/workbook.xml") && error.description.contains("line"), "\(error)")
        }
        let truncated = try T.zip([("xl/workbook.xml", "<workbook><sheets><sheet name=\"S\"")])
        #expect(throws: SpreadsheetError.self) { try SpreadsheetReader().firstSheet(of: truncated) }
    }

    @Test func aPartThatDecompressesPastTheLimitIsRefused() throws {
        let cells = (1...2_000).map { #"<row r="\#($0)"><c r="A\#($0)"><v>\#($0)</v></c></row>"# }.joined()
        let book = try T.workbook(sheets: [("Big", "worksheets/sheet1.xml", cells)])
        var reader = SpreadsheetReader()
        reader.maximumPartBytes = 10_000
        #expect(throws: SpreadsheetError.self) { try reader.firstSheet(of: book) }
        reader = SpreadsheetReader()
        reader.maximumCSVBytes = 5_000
        #expect(throws: SpreadsheetError.tooLarge("the CSV is over 5000 bytes")) { try reader.firstSheet(of: book) }
        // A single far-away cell: its extent alone is refused before any text is built.
        let sparse = try T.workbook(sheets: [("Sparse", "worksheets/sheet1.xml", #"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#)])
        #expect(throws: SpreadsheetError.tooLarge("1048576 rows × 16384 columns")) { try SpreadsheetReader().firstSheet(of: sparse) }
    }

    @Test func theSingleAnswerPromptShowsAWorkbookAsCSV() throws {
        let attachments = [
            ReceivedAttachment(name: "scores.xlsx", mediaType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               bytes: try T.scoresWorkbook()),
            ReceivedAttachment(name: "legacy.xls", mediaType: "application/vnd.ms-excel", bytes: Data([0xD0, 0xCF, 0x11, 0xE0])),
        ]
        let user = GenerationPrompt().user(for: GeneratorFixtures.brief(text: "Convert scores.xlsx to scores.csv.", attachments: attachments))
        #expect(user.contains("## scores.xlsx"))
        #expect(user.contains("Its first sheet, \"Scores\" (6 rows × 4 columns), converted to CSV (dates as ISO dates):\n```csv\n" + T.scoresCSV + "```\n"
            + "To commit a sheet as CSV or JSON, name the workbook as the file's source rather than copying the data."))
        #expect(user.contains("## legacy.xls") && user.contains("spreadsheet (binary), not shown"))
    }
}
