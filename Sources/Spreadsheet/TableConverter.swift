import Foundation

/// CSV ↔ JSON without a model in between: a brief's data is converted exactly, not retyped.
///
/// CSV is read per RFC 4180 (quoted fields may hold commas, quotes and line breaks; CRLF or LF);
/// its first record names the columns. JSON is an array of objects, one per record, keys in the
/// header's order; a field that is a JSON number (`42`, `-3.5`, `1e3`) becomes a number written
/// exactly as in the CSV, anything else a string. JSON → CSV takes an array of objects (or an
/// object holding one such array): the columns are the keys, alphabetically; nested values are
/// written as JSON text, `null` as an empty field.
public struct TableConverter: Sendable {
    /// The most records converted.
    public var maximumRecords = 1_000_000

    public init() {}

    /// The records of `text`; a final line break ends the last record rather than adding one.
    public func records(ofCSV text: String) throws(SpreadsheetError) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var afterQuote = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = scalars.next()
        func endRecord() {
            record.append(field)
            records.append(record)
            record = []
            field = ""
        }
        while let scalar = pending {
            pending = scalars.next()
            if quoted {
                if scalar == "\"" {
                    if pending == "\"" { field.unicodeScalars.append("\""); pending = scalars.next() } else { quoted = false; afterQuote = true }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty && !afterQuote: quoted = true
            case ",": record.append(field); field = ""; afterQuote = false
            case "\r":
                if pending == "\n" { pending = scalars.next() }
                endRecord(); afterQuote = false
            case "\n": endRecord(); afterQuote = false
            default: field.unicodeScalars.append(scalar)
            }
            guard records.count <= maximumRecords else { throw .tooLarge("more than \(maximumRecords) CSV records") }
        }
        if quoted { throw .notATable("the CSV ends inside a quoted field (a quote is not closed)") }
        if !field.isEmpty || !record.isEmpty || afterQuote { endRecord() }
        return records
    }

    /// A CSV text as a JSON array of objects keyed by its header.
    public func json(fromCSV text: String) throws(SpreadsheetError) -> (json: String, records: Int, columns: [String]) {
        let all = try records(ofCSV: text)
        guard let header = all.first, !header.isEmpty else { throw .notATable("the CSV is empty: it needs a header line") }
        var seen = Set<String>()
        let keys = header.enumerated().map { index, name -> String in
            var key = name.isEmpty ? "column\(index + 1)" : name
            while seen.contains(key) { key += "_\(index + 1)" }
            seen.insert(key)
            return key
        }
        var out = "[\n"
        let rows = all.dropFirst().filter { $0 != [""] }
        for (number, row) in rows.enumerated() {
            let members = keys.enumerated().map { index, key in
                Self.quoted(key) + ": " + Self.value(index < row.count ? row[index] : "")
            }
            out += "  {" + members.joined(separator: ", ") + "}" + (number == rows.count - 1 ? "\n" : ",\n")
        }
        return (out + "]\n", rows.count, keys)
    }

    /// A JSON array of objects (or an object holding one) as CSV with a header line.
    public func csv(fromJSON data: Data) throws(SpreadsheetError) -> (csv: String, records: Int, columns: [String]) {
        let value: JSONCell
        do {
            value = try JSONDecoder().decode(JSONCell.self, from: data)
        } catch {
            throw .notATable("the file is not valid JSON")
        }
        var list: [JSONCell]?
        switch value {
        case .array(let items): list = items
        case .object(let members):
            let arrays = members.values.compactMap { if case .array(let items) = $0 { items } else { nil } }
            if arrays.count == 1 { list = arrays[0] }
        default: break
        }
        let rows = (list ?? []).compactMap { if case .object(let members) = $0 { members } else { nil } }
        guard let list, !list.isEmpty, rows.count == list.count else {
            throw .notATable("the JSON is not an array of objects (nor an object holding exactly one such array)")
        }
        guard rows.count <= maximumRecords else { throw .tooLarge("more than \(maximumRecords) JSON records") }
        let columns = Set(rows.flatMap(\.keys)).sorted()
        var text = columns.map(SpreadsheetReader.field).joined(separator: ",") + "\n"
        for row in rows {
            text += columns.map { SpreadsheetReader.field(row[$0]?.text ?? "") }.joined(separator: ",") + "\n"
        }
        return (text, rows.count, columns)
    }

    /// Any JSON value, read without `JSONSerialization` (whose booleans and numbers look alike on Linux).
    indirect enum JSONCell: Decodable {
        case null, bool(Bool), number(Double), string(String), array([JSONCell]), object([String: JSONCell])

        init(from decoder: any Decoder) throws {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { self = .null }
            else if let flag = try? single.decode(Bool.self) { self = .bool(flag) }
            else if let number = try? single.decode(Double.self) { self = .number(number) }
            else if let text = try? single.decode(String.self) { self = .string(text) }
            else if let items = try? single.decode([JSONCell].self) { self = .array(items) }
            else { self = .object(try single.decode([String: JSONCell].self)) }
        }

        /// As one CSV field: strings as they are, whole numbers without a decimal point, nested values as JSON.
        var text: String {
            switch self {
            case .null: ""
            case .bool(let flag): flag ? "true" : "false"
            case .number(let number):
                number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
            case .string(let text): text
            case .array(let items): "[" + items.map(\.json).joined(separator: ",") + "]"
            case .object(let members): "{" + members.keys.sorted().map { TableConverter.quoted($0) + ":" + members[$0]!.json }.joined(separator: ",") + "}"
            }
        }

        /// As JSON text.
        var json: String {
            if case .string(let text) = self { return TableConverter.quoted(text) }
            if case .null = self { return "null" }
            return text
        }
    }

    /// A field as JSON: a number as written when it is one, else a string.
    static func value(_ field: String) -> String {
        field.range(of: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#, options: .regularExpression) != nil ? field : quoted(field)
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

}
