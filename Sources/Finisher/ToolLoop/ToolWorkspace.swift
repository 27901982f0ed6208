import Foundation
import Spreadsheet

/// The repository as the tool loop builds it, in memory: the existing files (round ≥ 2), the
/// attachments (committed unchanged unless the model writes a file over one, as a brief asking
/// to fix an attached script needs), and what the model writes and deletes. Every write is checked as a generated answer is (`GeneratedChanges.reviewed`), so
/// the tree is valid after every call and can be used whenever the loop stops.
struct ToolWorkspace: Sendable {
    /// The repository before this round.
    let existing: [String: Data]
    /// This round's attachments, by name.
    let attachments: [String: ReceivedAttachment]
    /// The tree now: `existing` with the model's writes and deletions.
    private(set) var tree: [String: Data]
    /// Paths the model wrote, for the size limit.
    private(set) var written: Set<String> = []

    /// The workspace for `brief`.
    init(_ brief: GenerationBrief) {
        existing = brief.existingFiles
        tree = brief.existingFiles
        attachments = Dictionary(brief.attachments.map { ($0.name, $0) }) { first, _ in first }
    }

    /// Whether the model changed anything.
    var hasChanges: Bool { tree != existing }

    /// The bytes at `path` as the model sees them now: its own file, else the attachment, else
    /// the repository's.
    func current(_ path: String) -> Data? {
        if written.contains(path) { return tree[path] }
        return attachments[path]?.bytes ?? tree[path]
    }

    /// Attachments the model wrote over.
    var replacedAttachments: [String] { written.filter { attachments[$0] != nil }.sorted() }

    /// The model's work as changes to `existing`.
    func changes(summary: String?) -> GeneratedChanges {
        GeneratedChanges.difference(from: existing, to: tree, summary: summary)
    }

    /// `list_files`: every file with its size; attachments marked.
    func list(limit: Int) -> String {
        var lines: [String] = []
        for path in tree.keys.sorted() where attachments[path] == nil || written.contains(path) {
            lines.append("\(path)\t\(tree[path]!.count) bytes" + (written.contains(path) ? "\twritten by you" : ""))
        }
        for name in attachments.keys.sorted() where !written.contains(name) {
            let attachment = attachments[name]!
            let note = SpreadsheetReader.isWorkbook(name: name, mediaType: attachment.mediaType)
                ? "attachment, committed unchanged unless you write over it; read_file returns its first sheet as CSV"
                : "attachment, committed unchanged unless you write over it"
            lines.append("\(name)\t\(attachment.bytes.count) bytes\t\(note)")
        }
        var text = lines.isEmpty ? "No files yet." : lines.prefix(limit).joined(separator: "\n")
        if lines.count > limit { text += "\n[… \(lines.count - limit) more not listed]" }
        return text + "\nLICENSE (MIT) is added by the pipeline, and missing README.md sections are filled in."
    }

    /// Which part of a file `read_file` returns: all of it (head and tail when long), a byte
    /// range (`offset` negative counts from the end), or a line range; and a workbook's sheet.
    struct ReadRange: Sendable, Equatable {
        var offset: Int?
        var length: Int?
        var startLine: Int?
        var endLine: Int?
        var sheet: String?

        var isWhole: Bool { offset == nil && length == nil && startLine == nil && endLine == nil }
    }

    /// `read_file`: a file's text (head and tail of a long one, or the range asked for), a
    /// spreadsheet as CSV, or a note that the file is binary.
    func read(_ path: String, range: ReadRange = ReadRange(), limit: Int, spreadsheets: SpreadsheetReader) -> ToolResult {
        if let problem = RepositoryDocuments.problem(withPath: path) {
            return .refused("path \(GeneratedChanges.quoted(path)) \(problem): give a relative path as list_files shows it")
        }
        let bytes: Data
        var mediaType = ""
        if let attachment = attachments[path], !written.contains(path) {
            bytes = attachment.bytes
            mediaType = attachment.mediaType
        } else if let file = tree[path] {
            bytes = file
        } else if path == "LICENSE" {
            return .ok("LICENSE is written by the pipeline: the MIT licence text.")
        } else {
            return .refused("there is no file \(GeneratedChanges.quoted(path)); list_files shows every file")
        }
        if GenerationPrompt.text(of: bytes) == nil, SpreadsheetReader.isWorkbook(name: path, mediaType: mediaType) {
            do {
                let sheet = try spreadsheets.sheet(range.sheet, of: bytes)
                guard range.isWhole else { return Self.ranged(Data(sheet.csv.utf8), range, name: "\(path) (sheet \(sheet.name.debugDescription) as CSV)", limit: limit) }
                let shown = GenerationPrompt.excerpt(sheet.csv, limit: limit)
                if shown.count == sheet.csv.count { return .ok(sheet.csv) }
                return .ok(shown + "\n[CSV of sheet \"\(sheet.name)\": \(sheet.rows) rows × \(sheet.columns) columns, "
                    + "\(sheet.csv.count) characters; its middle is left out above: read_file with a range reads any part]")
            } catch {
                return .failed("\(path) is a spreadsheet that could not be converted: \(error)")
            }
        }
        guard GenerationPrompt.text(of: bytes) != nil else {
            return .ok("\(path) is binary (\(mediaType.isEmpty ? "" : mediaType + ", ")\(bytes.count) bytes) and cannot be shown as text; "
                + "the app can use it by its relative URL ./\(path).")
        }
        guard range.isWhole else { return Self.ranged(bytes, range, name: path, limit: limit) }
        let text = GenerationPrompt.text(of: bytes)!
        let shown = GenerationPrompt.excerpt(text, limit: limit)
        if shown.count == text.count { return .ok(text) }
        return .ok(shown + "\n[\(path) is \(bytes.count) bytes; read_file with offset and length, or start_line and end_line, reads any part]")
    }

    /// The part of `bytes` that `range` names, with a line saying which part it is.
    private static func ranged(_ bytes: Data, _ range: ReadRange, name: String, limit: Int) -> ToolResult {
        let data = [UInt8](bytes)
        if range.startLine != nil || range.endLine != nil {
            guard range.offset == nil && range.length == nil else {
                return .refused("give a byte range (offset, length) or a line range (start_line, end_line), not both")
            }
            var starts = [0]
            for (index, byte) in data.enumerated() where byte == 0x0A && index + 1 < data.count { starts.append(index + 1) }
            let first = range.startLine ?? 1
            let last = min(range.endLine ?? starts.count, starts.count)
            guard first >= 1, first <= starts.count, last >= first else {
                return .refused("\(name) has \(starts.count) lines: start_line must be between 1 and \(starts.count), end_line not before it")
            }
            let end = last < starts.count ? starts[last] : data.count
            var text = String(decoding: data[starts[first - 1]..<end], as: UTF8.self)
            var note = ""
            if text.count > limit { text = String(text.prefix(limit)); note = " (cut at \(limit) characters: ask for fewer lines)" }
            return .ok("Lines \(first)–\(last) of \(starts.count) of \(name)\(note):\n" + text)
        }
        var start = range.offset ?? 0
        if start < 0 { start = max(0, data.count + start) }
        guard start <= data.count else { return .refused("\(name) is \(data.count) bytes: offset \(start) is past its end") }
        if let length = range.length, length < 1 { return .refused("length must be at least 1") }
        var end = min(data.count, start + (range.length ?? data.count))
        end = min(end, start + limit)
        // Whole UTF-8 characters only: step off continuation bytes at both ends.
        while start < end, data[start] & 0xC0 == 0x80 { start += 1 }
        while end < data.count, end > start, data[end] & 0xC0 == 0x80 { end -= 1 }
        let text = String(decoding: data[start..<end], as: UTF8.self)
        return .ok("Bytes \(start)–\(end) of \(data.count) of \(name):\n" + text)
    }

    /// Why `path` cannot be written by a tool, or `nil` (checked before a fetch or conversion).
    func problem(writing path: String) -> String? {
        if let problem = RepositoryDocuments.problem(withPath: path) {
            return "path \(GeneratedChanges.quoted(path)) \(problem): use a relative path with forward slashes inside the repository, such as data.json"
        }
        if GeneratedChanges.reservedPaths.contains(path) { return "\(path) is written by the pipeline (MIT); leave it out" }
        return nil
    }

    /// `write_file`: creates or replaces `path` with `content` (text, or base64 of a binary
    /// file), when the rules allow. Writing over an attachment replaces it.
    mutating func write(_ path: String, content: String, encoding: GeneratedChanges.File.Encoding = .utf8) -> ToolResult {
        if let problem = RepositoryDocuments.problem(withPath: path) {
            return .refused("path \(GeneratedChanges.quoted(path)) \(problem): use a relative path with forward slashes inside the repository, such as index.html or data/items.json")
        }
        if GeneratedChanges.reservedPaths.contains(path) {
            return .refused("\(path) is written by the pipeline (MIT); leave it out")
        }
        let file = GeneratedChanges.File(path: path, content: content, encoding: encoding)
        if let attachment = attachments[path], let bytes = file.bytes, GeneratedChanges.sameText(attachment.bytes, bytes) {
            // The same text as the attachment: its own bytes stay, whatever newline the copy has.
            tree[path] = existing[path]
            written.remove(path)
            return .ok("\(path) is the attachment's content already; the attachment is committed unchanged.")
        }
        let review = GeneratedChanges(files: [file]).reviewed(existing: tree, attachments: attachments.mapValues(\.bytes))
        guard review.problems.isEmpty, review.accepted.files.count == 1, let bytes = file.bytes else {
            return .refused(review.problems.joined(separator: "; "))
        }
        return store(path, bytes: bytes)
    }

    /// Stores `bytes` at `path` verbatim (a fetched body, a converted table, a checked write),
    /// within the limits on what the model may write.
    mutating func store(_ path: String, bytes: Data) -> ToolResult {
        if let problem = RepositoryDocuments.problem(withPath: path) {
            return .refused("path \(GeneratedChanges.quoted(path)) \(problem): use a relative path with forward slashes inside the repository, such as data.json")
        }
        if GeneratedChanges.reservedPaths.contains(path) {
            return .refused("\(path) is written by the pipeline (MIT); leave it out")
        }
        if bytes.count > RepositoryDocuments.maximumFileSize {
            return .refused("\(path) would be \(bytes.count) bytes, more than the \(RepositoryDocuments.maximumFileSize)-byte limit")
        }
        var parent = (path as NSString).deletingLastPathComponent
        while !parent.isEmpty {
            if tree[parent] != nil { return .refused("\(GeneratedChanges.quoted(parent)) is a file, so \(GeneratedChanges.quoted(path)) cannot be inside it") }
            parent = (parent as NSString).deletingLastPathComponent
        }
        if tree.keys.contains(where: { $0.hasPrefix(path + "/") }) {
            return .refused("\(GeneratedChanges.quoted(path)) is a directory of the repository; choose another name")
        }
        let size = bytes.count
        let total = written.subtracting([path]).reduce(size) { $0 + (tree[$1]?.count ?? 0) }
        if total > GeneratedChanges.maximumTotalBytes {
            return .refused("the files you wrote would add up to \(total) bytes, more than the \(GeneratedChanges.maximumTotalBytes)-byte limit: write less")
        }
        if tree[path] == nil && written.count >= GeneratedChanges.maximumFiles {
            return .refused("you have written \(written.count) files, the most accepted")
        }
        let replaced = tree[path] != nil || attachments[path] != nil
        tree[path] = bytes
        written.insert(path)
        let note = attachments[path] != nil ? "; it replaces the attachment of that name in the published repository" : ""
        return .ok("\(replaced ? "Replaced" : "Wrote") \(path) (\(size) bytes)\(note).")
    }

    /// `delete_file`: removes a file, or every file under a directory (`dir` or `dir/`).
    mutating func delete(_ path: String) -> ToolResult {
        let target = path.hasSuffix("/") ? String(path.dropLast()) : path
        if let problem = RepositoryDocuments.problem(withPath: target) {
            return .refused("path \(GeneratedChanges.quoted(path)) \(problem): give a path as list_files shows it")
        }
        if GeneratedChanges.reservedPaths.contains(target) || target == "README.md" {
            return .refused("\(target) is required and kept; rewrite it with write_file instead")
        }
        if attachments[target] != nil {
            return .refused("\(target) is an attachment: it is committed (unchanged, or as you wrote it) and cannot be deleted")
        }
        let doomed = tree.keys.filter { ($0 == target || $0.hasPrefix(target + "/")) && attachments[$0] == nil }
        guard !doomed.isEmpty else {
            return .refused("there is no file \(GeneratedChanges.quoted(path)); list_files shows every file")
        }
        for file in doomed {
            tree[file] = nil
            written.remove(file)
        }
        return .ok(doomed.count == 1 ? "Deleted \(doomed[0])." : "Deleted \(doomed.count) files under \(target)/.")
    }
}
