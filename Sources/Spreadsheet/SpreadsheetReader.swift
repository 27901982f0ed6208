import Foundation
import ZIPFoundation

/// A sheet of an Excel workbook (`.xlsx`) as CSV text, for the prompt, `read_file` and
/// `convert_file`: briefs ask to convert spreadsheets, and a model cannot read a ZIP archive.
///
/// Reads `xl/workbook.xml` (the sheets' names and relationships), `xl/_rels/workbook.xml.rels`
/// (where each sheet is; `xl/worksheets/sheetN.xml` when the relationships say nothing),
/// `xl/sharedStrings.xml`, `xl/styles.xml` and the sheet itself. Shared strings, inline
/// strings, numbers (as stored), booleans (`TRUE`/`FALSE`), errors and formula results (the
/// cached value) are read; cell references are respected, so gaps become empty fields. Of the
/// styles only the number format matters: a cell formatted as a date or time is written as an
/// ISO 8601 date or time rather than Excel's serial number. Fields are quoted per RFC 4180 (a field with a
/// comma, quote or line break is quoted, quotes doubled); lines end with `lineEnding`.
///
/// Untrusted input: every part is size-capped while it is decompressed (a declared size proves
/// nothing), the XML parser resolves no external entity, and the sheet's extent is capped.
public struct SpreadsheetReader: Sendable {
    /// The most bytes one part may decompress to.
    public var maximumPartBytes = 32 << 20
    /// The most bytes of CSV produced.
    public var maximumCSVBytes = 16 << 20
    /// The most cells read (rows × columns of the output are capped by `maximumCSVBytes`).
    public var maximumCells = 2_000_000
    /// Between records: `\n`, as most tools write CSV (RFC 4180 itself says CRLF).
    public var lineEnding = "\n"

    public init() {}

    /// A sheet converted to CSV.
    public struct Sheet: Sendable, Equatable {
        /// The sheet's name in the workbook (`Sheet1`), or the part's name when the workbook has none.
        public var name: String
        /// The CSV text, every record ending with `lineEnding` (empty for an empty sheet).
        public var csv: String
        /// Records in `csv`: the last row with a value (rows before it are kept, empty or not).
        public var rows: Int
        /// Fields per record: the rightmost column with a value.
        public var columns: Int
    }

    /// Whether `name` or `mediaType` says the bytes are an Office Open XML workbook.
    public static func isWorkbook(name: String, mediaType: String = "") -> Bool {
        name.lowercased().hasSuffix(".xlsx") || mediaType.lowercased().hasPrefix("application/vnd.openxmlformats-officedocument.spreadsheetml")
    }

    /// The workbook's first sheet as CSV.
    /// - Throws: `SpreadsheetError` saying why the bytes are not a readable workbook.
    public func firstSheet(of workbook: Data) throws(SpreadsheetError) -> Sheet {
        try sheet(nil, of: workbook)
    }

    /// The names of the workbook's sheets, in order.
    public func sheetNames(of workbook: Data) throws(SpreadsheetError) -> [String] {
        let archive = try open(workbook)
        guard let workbookXML = try part("xl/workbook.xml", in: archive) else { throw .missingPart("xl/workbook.xml") }
        return try Self.sheetReferences(workbookXML).sheets.map(\.name)
    }

    /// One sheet as CSV: `selector` is its name (compared without case) or its 1-based position
    /// (`"2"`); `nil` is the first. Cells formatted as dates or times are written as ISO 8601
    /// (`2024-03-01`, `2024-03-01T14:30:00`, `14:30:00`).
    /// - Throws: `SpreadsheetError.noSuchSheet` listing the sheets when none matches.
    public func sheet(_ selector: String?, of workbook: Data) throws(SpreadsheetError) -> Sheet {
        let archive = try open(workbook)
        guard let workbookXML = try part("xl/workbook.xml", in: archive) else { throw .missingPart("xl/workbook.xml") }
        let (references, date1904) = try Self.sheetReferences(workbookXML)
        var chosen: SheetReference?
        if let selector = selector?.trimmingCharacters(in: .whitespaces), !selector.isEmpty {
            chosen = references.first { $0.name == selector } ?? references.first { $0.name.lowercased() == selector.lowercased() }
            if chosen == nil, let position = Int(selector), references.indices.contains(position - 1) { chosen = references[position - 1] }
            guard chosen != nil else { throw .noSuchSheet(selector, available: references.map(\.name)) }
        } else {
            chosen = references.first
        }
        var sheetName = chosen?.name ?? "Sheet1"
        var sheetPath = "xl/worksheets/sheet1.xml"
        if let chosen {
            sheetName = chosen.name
            if let relationship = chosen.relationship, let rels = try part("xl/_rels/workbook.xml.rels", in: archive),
               let target = try Self.relationshipTargets(rels)[relationship] {
                sheetPath = target.hasPrefix("/") ? String(target.dropFirst()) : "xl/" + target
            } else if let index = references.firstIndex(of: chosen) {
                sheetPath = "xl/worksheets/sheet\(index + 1).xml"
            }
        }
        guard let sheetXML = try part(sheetPath, in: archive) else { throw .missingPart(sheetPath) }
        let shared = try part("xl/sharedStrings.xml", in: archive).map { data throws(SpreadsheetError) in try Self.sharedStrings(data) } ?? []
        let dates = try part("xl/styles.xml", in: archive).map { data throws(SpreadsheetError) in try Self.dateStyles(data) } ?? [:]
        let cells = try Self.cells(sheetXML, part: sheetPath, sharedStrings: shared, maximumCells: maximumCells, dateStyles: dates, date1904: date1904)
        return Sheet(name: sheetName, csv: try csv(cells), rows: cells.rows, columns: cells.columns)
    }

    /// The archive, or why the bytes are not one.
    private func open(_ workbook: Data) throws(SpreadsheetError) -> Archive {
        guard workbook.starts(with: [0x50, 0x4B]) else { throw .notAnArchive("it does not start with a ZIP signature") }
        do {
            return try Archive(data: workbook, accessMode: .read)
        } catch {
            throw .notAnArchive("\(error)")
        }
    }

    /// The decompressed bytes of the entry at `path` (compared without case), or `nil`.
    private func part(_ path: String, in archive: Archive) throws(SpreadsheetError) -> Data? {
        guard let entry = archive[path] ?? archive.first(where: { $0.path.lowercased() == path.lowercased() }) else { return nil }
        guard entry.type == .file else { return nil }
        var data = Data()
        let limit = maximumPartBytes
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard data.count + chunk.count <= limit else { throw SpreadsheetError.tooLarge("\(path) decompresses to more than \(limit) bytes") }
                data.append(chunk)
            }
        } catch let error as SpreadsheetError {
            throw error
        } catch {
            throw .notAnArchive("\(path): \(error)")
        }
        return data
    }

    /// The cells, as CSV within the size limit.
    private func csv(_ cells: Cells) throws(SpreadsheetError) -> String {
        guard cells.rows > 0, cells.columns > 0 else { return "" }
        // Each empty field still costs its comma: refuse a sheet whose extent alone is too big.
        let (extent, overflow) = cells.rows.multipliedReportingOverflow(by: cells.columns)
        guard !overflow, extent <= maximumCSVBytes else {
            throw .tooLarge("\(cells.rows) rows × \(cells.columns) columns")
        }
        var text = ""
        var size = 0
        for row in 1...cells.rows {
            let values = cells.values[row] ?? [:]
            var line = ""
            for column in 1...cells.columns {
                if column > 1 { line += "," }
                if let value = values[column] { line += Self.field(value) }
            }
            line += lineEnding
            size += line.utf8.count
            guard size <= maximumCSVBytes else { throw .tooLarge("the CSV is over \(maximumCSVBytes) bytes") }
            text += line
        }
        return text
    }

    /// `value` as one CSV field: quoted, with quotes doubled, when it holds a comma, a quote or
    /// a line break (RFC 4180).
    static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Column letters (`A`, `Z`, `AA`, `XFD`) as a 1-based index, or `nil` past Excel's 16,384.
    static func columnIndex(_ letters: Substring) -> Int? {
        var index = 0
        for scalar in letters.unicodeScalars {
            guard scalar.value >= 65 && scalar.value <= 90 else { return nil }
            index = index * 26 + Int(scalar.value - 64)
            guard index <= 16_384 else { return nil }
        }
        return index == 0 ? nil : index
    }

    /// Excel's `_xHHHH_` escapes (used for control characters such as `_x000D_`) decoded.
    static func unescaped(_ text: String) -> String {
        guard text.contains("_x") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "_x") {
            result += rest[..<start.lowerBound]
            let after = rest[start.upperBound...]
            let hex = after.prefix(4)
            if hex.count == 4, after.dropFirst(4).first == "_", let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) {
                result.unicodeScalars.append(scalar)
                rest = after.dropFirst(5)
            } else {
                result += "_x"
                rest = after
            }
        }
        return result + rest
    }
}
