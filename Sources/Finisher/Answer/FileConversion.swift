import Foundation
import Spreadsheet

/// Deterministic conversions between the data formats briefs name: `.xlsx` → `.csv` or `.json`
/// (any sheet, dates as ISO dates), `.csv` → `.json`, `.json` → `.csv`, and a verbatim copy
/// between files of the same kind. The tool loop's `convert_file` and the single answer's
/// declarative sources (`{"path": "data.csv", "from": "data.xlsx"}`) both use it, so the model
/// never retypes data token by token.
struct FileConversion: Sendable {
    var spreadsheets = SpreadsheetReader()
    var tables = TableConverter()

    /// What a conversion produced: the bytes, and one line saying what they are.
    struct Output: Sendable, Equatable {
        var bytes: Data
        var summary: String
    }

    /// Why a conversion was not done, phrased for the model.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The formats a path's extension names.
    enum Kind: String, Sendable {
        case workbook, csv, json, other

        init(path: String, mediaType: String = "") {
            switch (path as NSString).pathExtension.lowercased() {
            case "xlsx": self = .workbook
            case "csv": self = .csv
            case "json": self = .json
            default: self = SpreadsheetReader.isWorkbook(name: path, mediaType: mediaType) ? .workbook : .other
            }
        }
    }

    /// `bytes` (the file at `source`) converted for `destination`; `sheet` picks a workbook's sheet
    /// by name or 1-based position (the first when `nil`).
    func convert(_ source: String, bytes: Data, mediaType: String = "", to destination: String, sheet: String?) -> Result<Output, Failure> {
        let from = Kind(path: source, mediaType: mediaType)
        let to = Kind(path: destination)
        do {
            switch (from, to) {
            case (.workbook, .csv), (.workbook, .json):
                let names = try spreadsheets.sheetNames(of: bytes)
                let converted = try spreadsheets.sheet(sheet, of: bytes)
                let others = names.count > 1 ? " The workbook's sheets: " + names.map(\.debugDescription).joined(separator: ", ")
                    + "; pass \"sheet\" to convert another." : ""
                let shape = "sheet \(converted.name.debugDescription) (\(converted.rows) rows × \(converted.columns) columns)"
                guard to == .json else {
                    return .success(Output(bytes: Data(converted.csv.utf8), summary: "\(shape) as CSV.\(others)"))
                }
                let table = try tables.json(fromCSV: converted.csv)
                return .success(Output(bytes: Data(table.json.utf8), summary: "\(shape) as a JSON array of \(table.records) objects.\(others)"))
            case (.csv, .json):
                guard let text = GenerationPrompt.text(of: bytes) else { throw Failure(description: "\(source) is not UTF-8 text") }
                let table = try tables.json(fromCSV: text)
                return .success(Output(bytes: Data(table.json.utf8),
                                       summary: "a JSON array of \(table.records) objects with the keys " + table.columns.joined(separator: ", ") + "."))
            case (.json, .csv):
                let table = try tables.csv(fromJSON: bytes)
                return .success(Output(bytes: Data(table.csv.utf8),
                                       summary: "\(table.records) CSV records with the columns " + table.columns.joined(separator: ", ") + " (alphabetical)."))
            case (.csv, .csv), (.json, .json), (.workbook, .workbook):
                return .success(Output(bytes: bytes, summary: "a byte-for-byte copy."))
            default:
                throw Failure(description: "cannot convert \(source) to \(destination): the conversions are .xlsx to .csv or .json, "
                    + ".csv to .json and .json to .csv")
            }
        } catch let failure as Failure {
            return .failure(failure)
        } catch let error as SpreadsheetError {
            return .failure(Failure(description: "\(source): \(error)"))
        } catch {
            return .failure(Failure(description: "\(source): \(error)"))
        }
    }
}

extension GeneratedChanges {
    /// The changes with each declarative source (`"from"`) converted into content, from the
    /// files the model can see (`available`: attachments, then the repository); a source that
    /// cannot be converted is a problem, and its file is left out.
    func resolvingSources(in available: (String) -> (bytes: Data, mediaType: String)?, conversion: FileConversion) -> (changes: GeneratedChanges, problems: [String]) {
        var resolved = self
        var problems: [String] = []
        resolved.files = files.compactMap { file in
            guard let source = file.source else { return file }
            let shown = Self.quoted(file.path)
            guard let origin = available(source) else {
                problems.append("\(shown) is to be converted from \(Self.quoted(source)), which is neither an attachment nor a file of the repository")
                return nil
            }
            switch conversion.convert(source, bytes: origin.bytes, mediaType: origin.mediaType, to: file.path, sheet: file.sheet) {
            case .success(let output):
                var converted = File.holding(output.bytes, at: file.path)
                converted.source = nil
                return converted
            case .failure(let failure):
                problems.append("\(shown) could not be converted: \(failure.description)")
                return nil
            }
        }
        return (resolved, problems)
    }
}
