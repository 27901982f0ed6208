import Foundation

/// Why a workbook could not be read as CSV. Each case says what was wrong with the file; the
/// prompt and `read_file` then describe the attachment as binary instead of showing it.
public enum SpreadsheetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a ZIP archive, or one whose entries cannot be read.
    case notAnArchive(String)
    /// A ZIP archive without the parts of an Excel workbook (`xl/workbook.xml`, a worksheet).
    case missingPart(String)
    /// A part that is not well-formed XML, or that refers to something that does not exist.
    case malformed(part: String, reason: String)
    /// A part or the resulting CSV is over the reader's limits (a ZIP bomb, or a huge sheet).
    case tooLarge(String)
    /// A CSV or JSON file that is not a table (unclosed quote, not an array of objects).
    case notATable(String)
    /// No sheet has the name or position asked for.
    case noSuchSheet(String, available: [String])

    /// What is wrong, for a log line or a tool result.
    public var description: String {
        switch self {
        case .notAnArchive(let reason):
            "not a readable .xlsx workbook (\(reason)); only Office Open XML spreadsheets can be converted, not legacy .xls"
        case .missingPart(let part):
            "the workbook has no \(part); save it again as an Excel .xlsx workbook"
        case .malformed(let part, let reason):
            "the workbook's \(part) cannot be read: \(reason)"
        case .tooLarge(let what):
            "the workbook is too large to convert: \(what)"
        case .notATable(let reason):
            "not a table that can be converted: \(reason)"
        case .noSuchSheet(let asked, let available):
            "the workbook has no sheet \(asked.debugDescription); its sheets are "
                + available.map(\.debugDescription).joined(separator: ", ") + " (name one, or give its position from 1)"
        }
    }
}
