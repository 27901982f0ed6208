import Foundation

/// What a model returned, parsed: files to write, paths to delete and a summary. Untrusted until
/// `reviewed(existing:attachmentNames:)` has checked it.
struct GeneratedChanges: Sendable, Equatable {
    /// One file to create or replace.
    struct File: Sendable, Equatable {
        /// As the model gave it (checked by the review).
        var path: String
        /// The complete text.
        var content: String
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
        /// Harmless things ignored (a LICENSE, an attachment's name, a deletion of nothing), for the log.
        var notes: [String]
    }

    /// Checks every path and content against the path rules (docs/architecture.md, Security model) and the limits, against
    /// the repository as it stands (`existing`) and the attachments the pipeline will commit.
    func reviewed(existing: [String: Data], attachmentNames: Set<String>) -> Review {
        var accepted = GeneratedChanges(summary: summary)
        var problems: [String] = []
        var notes: [String] = []
        var total = 0
        for file in files {
            let shown = Self.quoted(file.path)
            if let problem = RepositoryDocuments.problem(withPath: file.path) {
                problems.append("path \(shown) \(problem): use a relative path with forward slashes inside the repository, such as index.html or assets/app.js")
                continue
            }
            if Self.reservedPaths.contains(file.path) {
                notes.append("\(file.path) ignored: the pipeline writes it")
                continue
            }
            if attachmentNames.contains(file.path) {
                notes.append("\(file.path) ignored: it is an attachment, committed unchanged")
                continue
            }
            let fileExtension = (file.path as NSString).pathExtension.lowercased()
            if Self.binaryExtensions.contains(fileExtension) {
                problems.append("path \(shown) is a binary format (.\(fileExtension)), which cannot be written as text: "
                    + "leave it out, or use SVG, CSS or a CDN URL instead")
                continue
            }
            if file.content.unicodeScalars.contains("\u{0}") {
                problems.append("\(shown) contains NUL characters: only UTF-8 text files can be written")
                continue
            }
            let size = file.content.utf8.count
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
            } else if Self.reservedPaths.contains(directory) || directory == "README.md" || attachmentNames.contains(directory) {
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
            files: tree.keys.sorted().filter { existing[$0] != tree[$0] }.map { File(path: $0, content: String(decoding: tree[$0]!, as: UTF8.self)) },
            deletions: existing.keys.sorted().filter { tree[$0] == nil },
            summary: summary)
    }

    /// `existing` with the deletions removed and the files written over it.
    func applied(to existing: [String: Data]) -> [String: Data] {
        var tree = existing
        for path in deletions {
            tree = tree.filter { $0.key != path && !$0.key.hasPrefix(path + "/") }
        }
        for file in files { tree[file.path] = Data(file.content.utf8) }
        return tree
    }

    /// A path as quoted in a problem: control characters shown as `?`, at most 120 characters.
    static func quoted(_ path: String) -> String {
        let visible = String(String.UnicodeScalarView(path.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        return "\"" + (visible.count > 120 ? String(visible.prefix(120)) + "…" : visible) + "\""
    }
}
