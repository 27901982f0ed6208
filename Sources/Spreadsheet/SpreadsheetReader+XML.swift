import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The workbook's XML parts, read with Foundation's `XMLParser` (libxml2 on Linux) with
/// external entities off. Element names are compared without their namespace prefix, since
/// some writers use `x:c` where Excel writes `c`.
extension SpreadsheetReader {
    /// A sheet's values: `values[row][column]`, both 1-based, only cells with a value.
    struct Cells: Sendable, Equatable {
        /// The values by row, then column.
        var values: [Int: [Int: String]] = [:]
        /// The last row with a value.
        var rows = 0
        /// The rightmost column with a value.
        var columns = 0
    }

    /// One `<sheet>` of `xl/workbook.xml`: its name and `r:id`.
    struct SheetReference: Sendable, Equatable {
        var name: String
        var relationship: String?
    }

    /// Every `<sheet>` of `xl/workbook.xml` in order, and whether dates count from 1904
    /// (`<workbookPr date1904="1"/>`, old Mac workbooks).
    static func sheetReferences(_ data: Data) throws(SpreadsheetError) -> (sheets: [SheetReference], date1904: Bool) {
        let reader = WorkbookReader()
        try parse(data, part: "xl/workbook.xml", with: reader)
        return (reader.sheets, reader.date1904)
    }

    /// The style indices (`s` of a cell) whose number format shows a date or a time, from
    /// `xl/styles.xml`: `true` for a date (with or without a time), `false` for a time alone.
    static func dateStyles(_ data: Data) throws(SpreadsheetError) -> [Int: Bool] {
        let reader = StylesReader()
        try parse(data, part: "xl/styles.xml", with: reader)
        var styles: [Int: Bool] = [:]
        for (index, format) in reader.cellFormats.enumerated() {
            if let kind = DateFormat.kind(id: format, code: reader.formatCodes[format]) { styles[index] = kind }
        }
        return styles
    }

    /// `Id → Target` of `xl/_rels/workbook.xml.rels`.
    static func relationshipTargets(_ data: Data) throws(SpreadsheetError) -> [String: String] {
        let reader = RelationshipsReader()
        try parse(data, part: "xl/_rels/workbook.xml.rels", with: reader)
        return reader.targets
    }

    /// The strings of `xl/sharedStrings.xml`, in order (rich-text runs joined, phonetic hints left out).
    static func sharedStrings(_ data: Data) throws(SpreadsheetError) -> [String] {
        let reader = SharedStringsReader()
        try parse(data, part: "xl/sharedStrings.xml", with: reader)
        return reader.strings
    }

    /// Every cell with a value in a worksheet part.
    static func cells(
        _ data: Data, part: String, sharedStrings: [String], maximumCells: Int, dateStyles: [Int: Bool] = [:], date1904: Bool = false
    ) throws(SpreadsheetError) -> Cells {
        let reader = WorksheetReader(sharedStrings: sharedStrings, maximumCells: maximumCells)
        reader.dateStyles = dateStyles
        reader.date1904 = date1904
        try parse(data, part: part, with: reader)
        return reader.cells
    }

    /// Runs `XMLParser` over `data` with `reader`; a failure names the part, line and column.
    ///
    /// swift-corelibs-foundation's `parse()` can return `true` after a well-formedness error, and
    /// reports nothing when the input stops before the root element closes: `PartReader` notes both.
    private static func parse(_ data: Data, part: String, with reader: PartReader) throws(SpreadsheetError) {
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        parser.delegate = reader
        let succeeded = parser.parse()
        if let problem = reader.problem { throw problem.error(part: part) }
        if let error = reader.error ?? (succeeded ? nil : "not well-formed XML at line \(parser.lineNumber), column \(parser.columnNumber)") {
            throw .malformed(part: part, reason: error)
        }
        guard reader.rootClosed else { throw .malformed(part: part, reason: "the XML ends before its root element is closed") }
    }

    /// Why a reader stopped the parser.
    fileprivate enum ReaderProblem {
        /// The content breaks a rule (a bad reference, an unknown shared string).
        case malformed(String)
        /// The content is over a limit.
        case tooLarge(String)

        /// The error for `part`.
        func error(part: String) -> SpreadsheetError {
            switch self {
            case .malformed(let reason): .malformed(part: part, reason: reason)
            case .tooLarge(let what): .tooLarge(what)
            }
        }
    }

    /// The parser's delegate for one part: element events with the namespace prefix removed,
    /// the first well-formedness error with where it happened, whether the root element closed,
    /// and a way for a subclass to stop the parse with a `ReaderProblem`.
    private class PartReader: NSObject, XMLParserDelegate {
        /// Why the subclass stopped the parse.
        var problem: ReaderProblem?
        /// The first error the parser reported.
        var error: String?
        /// Whether the root element closed (the document is complete).
        var rootClosed = false
        private var depth = 0

        /// An element opened (name without prefix).
        func start(_ name: Substring, attributes: [String: String], parser: XMLParser) {}
        /// An element closed (name without prefix).
        func end(_ name: Substring, parser: XMLParser) {}
        /// Character data.
        func text(_ string: String) {}

        /// Stops the parse for `problem` (the first one is kept).
        final func stop(_ parser: XMLParser, _ problem: ReaderProblem) {
            guard self.problem == nil else { return }
            self.problem = problem
            parser.abortParsing()
        }

        final func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                          qualifiedName: String?, attributes: [String: String] = [:]) {
            depth += 1
            if problem == nil { start(SpreadsheetReader.local(elementName), attributes: attributes, parser: parser) }
        }

        final func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            depth -= 1
            if depth == 0 { rootClosed = true }
            if problem == nil { end(SpreadsheetReader.local(elementName), parser: parser) }
        }

        final func parser(_ parser: XMLParser, foundCharacters string: String) {
            if problem == nil { text(string) }
        }

        final func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
            guard error == nil, problem == nil else { return }
            let code = (parseError as NSError).code
            let kinds = [4: "the document is empty or not XML", 5: "the document ends too early", 9: "an invalid character",
                         76: "a closing tag does not match its opening tag"]
            error = "\(kinds[code] ?? "XML error \(code)") at line \(parser.lineNumber), column \(parser.columnNumber)"
        }
    }

    /// The element name without its namespace prefix.
    fileprivate static func local(_ name: String) -> Substring {
        name.lastIndex(of: ":").map { name[name.index(after: $0)...] } ?? Substring(name)
    }

    /// `<workbookPr date1904="1"/><sheets><sheet name="…" sheetId="1" r:id="rId1"/>…`.
    private final class WorkbookReader: PartReader {
        var sheets: [SheetReference] = []
        var date1904 = false

        override func start(_ name: Substring, attributes: [String: String], parser: XMLParser) {
            if name == "workbookPr" {
                date1904 = ["1", "true"].contains(attributes["date1904"]?.lowercased() ?? "")
            }
            guard name == "sheet" else { return }
            sheets.append(SheetReference(
                name: attributes["name"] ?? "Sheet\(sheets.count + 1)", relationship: attributes.first { key, _ in key.hasSuffix(":id") }?.value))
        }
    }

    /// `<styleSheet><numFmts><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>
    /// <cellXfs><xf numFmtId="14"/>…</cellXfs>`: the number format of each cell style.
    private final class StylesReader: PartReader {
        var formatCodes: [Int: String] = [:]
        var cellFormats: [Int] = []
        private var inCellFormats = false

        override func start(_ name: Substring, attributes: [String: String], parser: XMLParser) {
            switch name {
            case "numFmt":
                if let id = attributes["numFmtId"].flatMap({ Int($0) }), let code = attributes["formatCode"] { formatCodes[id] = code }
            case "cellXfs": inCellFormats = true
            case "xf" where inCellFormats: cellFormats.append(attributes["numFmtId"].flatMap { Int($0) } ?? 0)
            default: break
            }
        }

        override func end(_ name: Substring, parser: XMLParser) {
            if name == "cellXfs" { inCellFormats = false }
        }
    }

    /// `<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/>…`.
    private final class RelationshipsReader: PartReader {
        var targets: [String: String] = [:]

        override func start(_ name: Substring, attributes: [String: String], parser: XMLParser) {
            guard name == "Relationship", let id = attributes["Id"], let target = attributes["Target"] else { return }
            targets[id] = target
        }
    }

    /// `<sst><si><t>…</t></si><si><r><t>rich</t></r><r><t> text</t></r><rPh><t>hint</t></rPh></si>…`.
    private final class SharedStringsReader: PartReader {
        var strings: [String] = []
        private var current: String?
        private var inText = false
        private var phonetic = 0

        override func start(_ name: Substring, attributes: [String: String], parser: XMLParser) {
            switch name {
            case "si": current = ""
            case "rPh": phonetic += 1
            case "t": inText = phonetic == 0 && current != nil
            default: break
            }
        }

        override func end(_ name: Substring, parser: XMLParser) {
            switch name {
            case "si":
                strings.append(SpreadsheetReader.unescaped(current ?? ""))
                current = nil
            case "rPh": phonetic -= 1
            case "t": inText = false
            default: break
            }
        }

        override func text(_ string: String) {
            if inText { current? += string }
        }
    }

    /// `<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>x</t></is></c>…`.
    private final class WorksheetReader: PartReader {
        let sharedStrings: [String]
        let maximumCells: Int
        var cells = Cells()
        private var count = 0
        private var row = 0
        private var column = 0
        private var type = "n"
        private var style = 0
        /// Cell styles showing dates (`true`) or times alone (`false`).
        var dateStyles: [Int: Bool] = [:]
        var date1904 = false
        private var value: String?
        private var inline: String?
        private var capture: Capture = .none
        private var phonetic = 0

        /// Which element's text is being read.
        private enum Capture { case none, value, inline }

        init(sharedStrings: [String], maximumCells: Int) {
            self.sharedStrings = sharedStrings
            self.maximumCells = maximumCells
        }

        override func start(_ name: Substring, attributes: [String: String], parser: XMLParser) {
            switch name {
            case "row":
                if let text = attributes["r"] {
                    guard let number = Int(text), number >= 1, number <= 1_048_576 else {
                        return stop(parser, .malformed("row number \(text.prefix(20).debugDescription) is not between 1 and 1048576"))
                    }
                    row = number
                } else {
                    row += 1
                }
                column = 0
            case "c":
                type = attributes["t"] ?? "n"
                style = attributes["s"].flatMap { Int($0) } ?? 0
                value = nil
                inline = nil
                if let reference = attributes["r"] {
                    let letters = reference.prefix { $0.isASCII && $0.isLetter }
                    guard let index = SpreadsheetReader.columnIndex(Substring(letters.uppercased())) else {
                        return stop(parser, .malformed("cell reference \(reference.prefix(20).debugDescription) has no column between A and XFD"))
                    }
                    column = index
                    if let number = Int(reference.dropFirst(letters.count)), number >= 1, number <= 1_048_576 { row = number }
                } else {
                    column += 1
                }
                if row == 0 { row = 1 }
            case "v": capture = .value; value = value ?? ""
            case "is": inline = ""
            case "rPh": phonetic += 1
            case "t": if inline != nil && phonetic == 0 { capture = .inline }
            default: break
            }
        }

        override func end(_ name: Substring, parser: XMLParser) {
            switch name {
            case "v", "t": capture = .none
            case "rPh": phonetic -= 1
            case "c": finishCell(parser)
            default: break
            }
        }

        override func text(_ string: String) {
            switch capture {
            case .value: value? += string
            case .inline: inline? += string
            case .none: break
            }
        }

        /// Stores the cell just read when it has a value.
        private func finishCell(_ parser: XMLParser) {
            let text: String?
            switch type {
            case "s":
                guard let raw = value?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { text = nil; break }
                guard let index = Int(raw), sharedStrings.indices.contains(index) else {
                    return stop(parser, .malformed("a cell refers to shared string \(raw.prefix(20)) of \(sharedStrings.count)"))
                }
                text = sharedStrings[index]
            case "inlineStr":
                text = inline.map(SpreadsheetReader.unescaped) ?? value
            case "b":
                text = value.map { $0.trimmingCharacters(in: .whitespaces) == "1" ? "TRUE" : "FALSE" }
            case "str":
                text = value.map(SpreadsheetReader.unescaped)
            case "d":
                text = value?.trimmingCharacters(in: .whitespacesAndNewlines)
            default:
                let number = value?.trimmingCharacters(in: .whitespacesAndNewlines)
                if let number, let kind = dateStyles[style], let serial = Double(number) {
                    text = DateFormat.iso(serial: serial, dateShown: kind, date1904: date1904) ?? number
                } else {
                    text = number
                }
            }
            guard let text, !text.isEmpty else { return }
            count += 1
            guard count <= maximumCells else { return stop(parser, .tooLarge("more than \(maximumCells) cells")) }
            cells.values[row, default: [:]][column] = text
            cells.rows = max(cells.rows, row)
            cells.columns = max(cells.columns, column)
        }
    }
}
