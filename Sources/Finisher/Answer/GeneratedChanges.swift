import Foundation

/// What a model returned, parsed: files to write, paths to delete and a summary. Untrusted until
/// `reviewed(existing:attachmentNames:)` has checked it.
struct GeneratedChanges: Sendable, Equatable {
    /// One file to create or replace.
    struct File: Sendable, Equatable {
        /// How `content` carries the file's bytes.
        enum Encoding: String, Sendable, Equatable {
            /// The text itself.
            case utf8 = "utf-8"
            /// Base64 of the bytes: a binary file (an image, a font), asked for explicitly.
            case base64
        }

        /// As the model gave it (checked by the review).
        var path: String
        /// The complete text, or its base64 (`encoding`).
        var content: String
        /// How `content` is to be read.
        var encoding: Encoding = .utf8
        /// A file of the repository or an attachment this one is converted from (`{"path":
        /// "data.csv", "from": "data.xlsx"}`), resolved by `FileSources` before the review.
        var source: String? = nil
        /// With `source`: the workbook sheet to convert, by name or 1-based position.
        var sheet: String? = nil

        /// The bytes to commit: the text as UTF-8, or the decoded base64 (`nil` when it is not base64).
        var bytes: Data? {
            switch encoding {
            case .utf8: Data(content.utf8)
            case .base64: Data(base64Encoded: content, options: .ignoreUnknownCharacters)
            }
        }

        /// A file whose bytes are `data`: text when it is UTF-8 without NUL, base64 otherwise.
        static func holding(_ data: Data, at path: String) -> File {
            if let text = GenerationPrompt.text(of: data) { return File(path: path, content: text) }
            return File(path: path, content: data.base64EncodedString(), encoding: .base64)
        }
    }

    /// Files in the order the model gave them; a later one with the same path wins.
    var files: [File] = []
    /// Paths (or directories, ending in `/`) the model asked to remove.
    var deletions: [String] = []
    /// The model's one-line account of what it did, if any.
    var summary: String?

    /// The most files one answer may write.
    static let maximumFiles = 200
    /// The most text one answer may carry in total.
    static let maximumTotalBytes = 8 << 20
    /// Written by the pipeline whatever the model says (RepositoryDocuments).
    static let reservedPaths: Set<String> = ["LICENSE"]
    /// Extensions of formats that cannot be written as text: the model must not pretend to.
    static let binaryExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "webp", "ico", "bmp", "tif", "tiff", "avif", "pdf", "zip", "gz", "tgz", "xz", "bz2",
        "7z", "rar", "xlsx", "xls", "docx", "doc", "pptx", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "wav",
        "ogg", "webm", "mov", "wasm", "exe", "so", "dylib", "class", "jar", "pyc", "sqlite", "db",
    ]

    /// The outcome of checking an answer: what can be used, what is wrong (quoted to the model in
    /// a repair), and what was quietly left out.
    struct Review: Sendable, Equatable {
        /// The answer without the files and deletions that broke a rule.
        var accepted: GeneratedChanges
        /// Each broken rule, phrased for the model: which path, what is wrong, what to do.
        var problems: [String]
        /// Harmless things ignored (a LICENSE, a copy of an attachment, a deletion of nothing), for the log.
        var notes: [String]
    }

    /// Checks every path and content against the path rules (docs/architecture.md, Security model) and the limits, against
    /// the repository as it stands (`existing`) and this round's attachments by name.
    ///
    /// A file written under an attachment's name replaces the attachment (a brief may ask to fix
    /// an attached script); one whose text only differs from the attachment's in line endings or
    /// the final newline is a copy, dropped so that the attachment's own bytes are committed.
    func reviewed(existing: [String: Data], attachments: [String: Data]) -> Review {
        var accepted = GeneratedChanges(summary: summary)
        var problems: [String] = []
        var notes: [String] = []
        var total = 0
        for file in files {
            let shown = Self.quoted(file.path)
            if let problem = RepositoryDocuments.problem(withPath: file.path) {
                problems.append("path \(shown) \(problem): use a relative path with forward slashes inside the repository, such as index.html or data/items.json")
                continue
            }
            if Self.reservedPaths.contains(file.path) {
                notes.append("\(file.path) ignored: the pipeline writes it")
                continue
            }
            if file.source != nil {
                problems.append("\(shown) names a source (\"from\") that was not converted: give its content instead")
                continue
            }
            let fileExtension = (file.path as NSString).pathExtension.lowercased()
            if file.encoding == .utf8 && Self.binaryExtensions.contains(fileExtension) {
                problems.append("path \(shown) is a binary format (.\(fileExtension)), which cannot be written as text: "
                    + "give its bytes as base64 with \"encoding\": \"base64\" if the brief needs it, else use SVG, CSS or a CDN URL")
                continue
            }
            if file.encoding == .utf8 && file.content.unicodeScalars.contains("\u{0}") {
                problems.append("\(shown) contains NUL characters: write binary files as base64 with \"encoding\": \"base64\"")
                continue
            }
            guard let bytes = file.bytes else {
                problems.append("\(shown) is marked \"encoding\": \"base64\" but its content is not base64")
                continue
            }
            if let original = attachments[file.path], Self.sameText(original, bytes) {
                notes.append("\(file.path) ignored: the same as the attachment, which is committed byte for byte")
                continue
            }
            let size = bytes.count
            if size > RepositoryDocuments.maximumFileSize {
                problems.append("\(shown) is \(size) bytes, more than the \(RepositoryDocuments.maximumFileSize)-byte limit: make it smaller or split it")
                continue
            }
            total += size
            accepted.files.removeAll { $0.path == file.path }
            accepted.files.append(file)
        }
        if accepted.files.count > Self.maximumFiles {
            problems.append("\(accepted.files.count) files were returned; at most \(Self.maximumFiles) are accepted")
            accepted.files = Array(accepted.files.prefix(Self.maximumFiles))
        }
        if total > Self.maximumTotalBytes {
            problems.append("the files add up to \(total) bytes, more than the \(Self.maximumTotalBytes)-byte limit: return less")
        }
        for path in deletions {
            let directory = path.hasSuffix("/") ? String(path.dropLast()) : path
            if let problem = RepositoryDocuments.problem(withPath: directory) {
                problems.append("delete entry \(Self.quoted(path)) \(problem): list existing paths exactly as shown")
            } else if Self.reservedPaths.contains(directory) || directory == "README.md" || attachments[directory] != nil {
                notes.append("deletion of \(directory) ignored: the pipeline keeps it")
            } else if !existing.keys.contains(where: { $0 == directory || $0.hasPrefix(directory + "/") }) {
                notes.append("deletion of \(directory) ignored: no such file")
            } else {
                accepted.deletions.append(directory)
            }
        }
        let tree = accepted.applied(to: existing)
        for path in tree.keys.sorted() {
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty {
                if tree[parent] != nil {
                    problems.append("\(Self.quoted(parent)) would be both a file and the directory of \(Self.quoted(path)): rename one of them")
                    accepted.files.removeAll { $0.path == path || $0.path == parent }
                }
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
        if accepted.files.isEmpty && accepted.deletions.isEmpty && problems.isEmpty {
            problems.append(existing.isEmpty
                ? "no files were returned: return every file of the app, starting with index.html"
                : "no changes were returned: return the files the brief asks to add or change, and README.md updated to describe the change")
        }
        return Review(accepted: accepted, problems: problems, notes: notes)
    }

    /// The changes that turn `existing` into `tree`: every file that is new or different, and
    /// every existing file that is gone (the tool loop's work, as an answer would have said it).
    static func difference(from existing: [String: Data], to tree: [String: Data], summary: String?) -> GeneratedChanges {
        GeneratedChanges(
            files: tree.keys.sorted().filter { existing[$0] != tree[$0] }.map { File.holding(tree[$0]!, at: $0) },
            deletions: existing.keys.sorted().filter { tree[$0] == nil },
            summary: summary)
    }

    /// `existing` with the deletions removed and the files written over it.
    func applied(to existing: [String: Data]) -> [String: Data] {
        var tree = existing
        for path in deletions {
            tree = tree.filter { $0.key != path && !$0.key.hasPrefix(path + "/") }
        }
        for file in files { tree[file.path] = file.bytes ?? Data() }
        return tree
    }

    /// The paths of `attachments` these changes replace.
    func replacing(_ attachments: [String: Data]) -> [String] {
        Set(files.map(\.path)).filter { attachments[$0] != nil }.sorted()
    }

    /// Whether two files hold the same text but for line endings and trailing newlines (a model
    /// copying `uid.txt` adds or drops its final newline): then the original's bytes are kept.
    static func sameText(_ original: Data, _ copy: Data) -> Bool {
        if original == copy { return true }
        guard let left = GenerationPrompt.text(of: original), let right = GenerationPrompt.text(of: copy) else { return false }
        func normalized(_ text: String) -> String {
            var lines = text.replacingOccurrences(of: "\r\n", with: "\n")
            while lines.hasSuffix("\n") { lines.removeLast() }
            return lines
        }
        return normalized(left) == normalized(right)
    }

    /// A path as quoted in a problem: control characters shown as `?`, at most 120 characters.
    static func quoted(_ path: String) -> String {
        let visible = String(String.UnicodeScalarView(path.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return "\"" + (visible.count > 120 ? String(visible.prefix(120)) + "…" : visible) + "\""
    }
}
