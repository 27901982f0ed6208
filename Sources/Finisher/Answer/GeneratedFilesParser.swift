import Foundation

/// Reads a model's answer leniently, because not every server honours `response_format`:
///
/// 1. the JSON object of the contract, `{"summary", "files": [{"path", "content"}], "delete"}`
///    (a file may instead name a source to convert, `{"path": "data.csv", "from": "data.xlsx"}`,
///    or carry base64 with `"encoding": "base64"`),
///    also as `{"files": {path: content}}`, a bare `{path: content}` map or an array of files;
/// 2. that JSON inside a fenced block (```` ```json ````), or surrounded by prose;
/// 3. one fenced block per file, the path on the fence line (```` ```html index.html ````), on
///    the line just before it (`**index.html**`, `### app.js`), or in a first-line comment.
///
/// It reports what it could not use in words the repair call can quote to the model.
enum GeneratedFilesParser {
    /// The answer as a whole could not be read.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong and what to send instead, phrased for the model.
        var description: String
    }

    /// What could be read, and the parts that could not (each phrased for the model).
    struct Answer: Sendable, Equatable {
        /// The files, deletions and summary found.
        var changes: GeneratedChanges
        /// Entries that were malformed and left out.
        var problems: [String]
    }

    /// Parses `text`, the assistant message's content.
    static func parse(_ text: String) throws(Failure) -> Answer {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if body.hasPrefix("\u{FEFF}") { body.removeFirst() }
        guard !body.isEmpty else {
            throw Failure(description: "the answer was empty: answer with the JSON object of files")
        }
        var jsonProblem: String?
        if body.hasPrefix("{") || body.hasPrefix("[") {
            switch decodeJSON(body) {
            case .success(let value): return try interpret(value)
            case .failure(let problem): jsonProblem = problem.description
            }
        }
        let blocks = fencedBlocks(in: body)
        for block in blocks where ["", "json", "jsonc", "json5"].contains(block.language) {
            // A named block is a file, unless it plainly holds the contract ("files").
            if case .success(let value) = decodeJSON(block.content),
               block.path == nil ? isContract(value) : (value as? [String: Any])?["files"] != nil {
                return try interpret(value)
            }
        }
        let named = blocks.filter { $0.path != nil }
        if !named.isEmpty || (blocks.count == 1 && blocks[0].language == "html") {
            var answer = Answer(changes: GeneratedChanges(), problems: [])
            for block in blocks {
                if block.path == nil && !named.isEmpty { continue }
                let path = block.path ?? "index.html"
                guard block.closed else {
                    answer.problems.append("the fenced block for \(GeneratedChanges.quoted(path)) is not closed (was the answer cut off?): "
                        + "close every block, and keep files short enough to fit")
                    continue
                }
                answer.changes.files.append(.init(path: path, content: block.content))
            }
            return answer
        }
        if jsonProblem == nil, let start = body.firstIndex(of: "{"), let end = body.lastIndex(of: "}"), start < end {
            let embedded = String(body[start...end])
            switch decodeJSON(embedded) {
            case .success(let value) where isContract(value): return try interpret(value)
            case .failure(let problem): jsonProblem = problem.description
            default: break
            }
        }
        if let jsonProblem {
            throw Failure(description: "the answer is not valid JSON: \(jsonProblem); answer with one complete JSON object, "
                + "escaping newlines (\\n) and double quotes (\\\") inside strings")
        }
        if !blocks.isEmpty {
            throw Failure(description: "found \(blocks.count) fenced code block\(blocks.count == 1 ? "" : "s") but none names its file: "
                + "answer with the JSON object of files, or put each file's path on its fence line, like ```html index.html")
        }
        throw Failure(description: "the answer contains neither a JSON object of files nor fenced code blocks named by path: "
            + "answer with the JSON object {\"summary\": …, \"files\": [{\"path\": …, \"content\": …}], \"delete\": []} and nothing else")
    }

    // MARK: JSON

    /// The parsed JSON value, or why it is not JSON (with line and column and the text there).
    static func decodeJSON(_ text: String) -> Result<Any, JSONProblem> {
        do {
            return .success(try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]))
        } catch {
            let detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
            return .failure(JSONProblem(describing: detail, in: text))
        }
    }

    /// Why a text is not JSON, phrased for the model.
    struct JSONProblem: Error, Sendable, Equatable, CustomStringConvertible {
        /// The parser's complaint with its position translated to line and column.
        var description: String

        /// From Foundation's message (`Invalid value around character 42.`), with the line,
        /// column and a short excerpt of `text` at that offset.
        init(describing detail: String, in text: String) {
            var message = detail.hasSuffix(".") ? String(detail.dropLast()) : detail
            if message.localizedCaseInsensitiveContains("unexpected end of file") {
                message += " (the JSON stops before it is complete: was the answer cut off?)"
            } else if let range = message.range(of: #"character (\d+)"#, options: .regularExpression),
                      let offset = Int(message[range].dropFirst("character ".count)) {
                let bytes = Array(text.utf8)
                let clamped = min(max(0, offset), bytes.count)
                let before = bytes[..<clamped]
                let line = before.filter { $0 == 0x0A }.count + 1
                let column = clamped - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
                let excerpt = String(decoding: bytes[clamped..<min(bytes.count, clamped + 40)], as: UTF8.self)
                    .replacingOccurrences(of: "\n", with: "\\n")
                message += " (line \(line), column \(column), at: \(excerpt.debugDescription))"
            }
            description = message
        }
    }

    /// Whether a JSON value has the shape of the contract (not, say, a `data.json` file's content).
    private static func isContract(_ value: Any) -> Bool {
        if let object = value as? [String: Any] {
            if object["files"] != nil { return true }
            return !object.isEmpty && object.allSatisfy { pathLike($0.key) != nil && ($0.value is String) }
        }
        if let array = value as? [[String: Any]] { return !array.isEmpty && array.allSatisfy { $0["path"] is String } }
        return false
    }

    /// The contract's fields, read with the aliases models use.
    private static func interpret(_ value: Any) throws(Failure) -> Answer {
        var answer = Answer(changes: GeneratedChanges(), problems: [])
        let files: Any
        if let object = value as? [String: Any] {
            if let given = object["files"] {
                files = given
            } else if !object.isEmpty && object.allSatisfy({ pathLike($0.key) != nil }) && object["summary"] == nil {
                files = object
            } else {
                throw Failure(description: "the JSON object has no \"files\" field (it has \(object.keys.sorted().prefix(8).map { "\"\($0)\"" }.joined(separator: ", "))): "
                    + "answer {\"summary\": …, \"files\": [{\"path\": …, \"content\": …}], \"delete\": []}")
            }
            answer.changes.summary = object["summary"] as? String
            for key in ["delete", "deletions", "deleted", "remove"] {
                guard let listed = object[key] else { continue }
                guard let entries = listed as? [Any] else {
                    answer.problems.append("\"\(key)\" must be an array of path strings")
                    continue
                }
                for (index, entry) in entries.enumerated() {
                    if let path = entry as? String { answer.changes.deletions.append(path) }
                    else { answer.problems.append("\(key)[\(index)] must be a path string") }
                }
            }
        } else {
            files = value
        }
        if let list = files as? [Any] {
            for (index, item) in list.enumerated() {
                guard let entry = item as? [String: Any] else {
                    answer.problems.append("files[\(index)] must be an object {\"path\": …, \"content\": …}")
                    continue
                }
                guard let path = ["path", "name", "filename", "file"].lazy.compactMap({ entry[$0] as? String }).first else {
                    answer.problems.append("files[\(index)] has no \"path\" string")
                    continue
                }
                if let source = entry["from"] as? String, !source.isEmpty {
                    // A declarative source: converted from a file the pipeline has, not retyped.
                    answer.changes.files.append(.init(path: path, content: "", source: source, sheet: (entry["sheet"] as? String) ?? (entry["sheet"] as? Int).map(String.init)))
                    continue
                }
                guard let content = ["content", "contents", "text", "body"].lazy.compactMap({ entry[$0] }).first,
                      let text = self.text(of: content) else {
                    answer.problems.append("files[\(index)] (\(GeneratedChanges.quoted(path))) has no \"content\" string (nor a \"from\" source)")
                    continue
                }
                switch (entry["encoding"] as? String)?.lowercased() {
                case nil, "", "utf-8", "utf8", "text":
                    answer.changes.files.append(.init(path: path, content: text))
                case "base64":
                    answer.changes.files.append(.init(path: path, content: text, encoding: .base64))
                case let other?:
                    answer.problems.append("files[\(index)] (\(GeneratedChanges.quoted(path))) has \"encoding\": \(String(other.prefix(40)).debugDescription); "
                        + "use \"utf-8\" (text) or \"base64\" (a binary file)")
                }
            }
        } else if let map = files as? [String: Any] {
            for path in map.keys.sorted() {
                guard let text = text(of: map[path]!) else {
                    answer.problems.append("the content of \(GeneratedChanges.quoted(path)) must be a string")
                    continue
                }
                answer.changes.files.append(.init(path: path, content: text))
            }
        } else {
            throw Failure(description: "\"files\" must be an array of {\"path\": …, \"content\": …} objects")
        }
        return answer
    }

    /// A file's content: a string as is; an object or array (a `.json` file given as JSON) as
    /// pretty-printed JSON text; `nil` for `null`, numbers and booleans.
    private static func text(of value: Any) -> String? {
        if let text = value as? String { return text }
        guard value is [Any] || value is [String: Any],
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return nil }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: Fenced blocks

    /// A fenced code block in a Markdown answer.
    struct FencedBlock: Sendable, Equatable {
        /// The info string's first word, lowercased (`html`, `json`, or empty).
        var language: String
        /// The file it is for, when the answer names one.
        var path: String?
        /// The lines between the fences, ending in a newline.
        var content: String
        /// `false` when the answer ended inside the block.
        var closed: Bool
    }

    /// Every fenced block of `text` (```` ``` ```` or `~~~`, three or more), with its file path.
    static func fencedBlocks(in text: String) -> [FencedBlock] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        var blocks: [FencedBlock] = []
        var index = 0
        while index < lines.count {
            guard let fence = opening(lines[index]) else {
                index += 1
                continue
            }
            let infoWords = fence.info.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "{" || $0 == "}" }).map(String.init)
            var language = infoWords.first.map { String($0.prefix { $0 != ":" }).lowercased() } ?? ""
            var path = infoWords.lazy.flatMap { $0.split(separator: ":").map(String.init) }.compactMap(pathLike).first
            if path?.lowercased() == language { language = "" }
            if path == nil, let named = pathBefore(lines, index), !(shells.contains(language) && !named.hasSuffix(".sh")) {
                path = named
            }
            let markdown = ["md", "markdown"].contains(language) || path.map { $0.hasSuffix(".md") || $0.hasSuffix(".markdown") } ?? false
            var body: [String] = []
            var depth = 0
            var closed = false
            index += 1
            while index < lines.count {
                let line = lines[index]
                index += 1
                if isClosing(line, fence: fence) {
                    if depth == 0 { closed = true; break }
                    depth -= 1
                } else if markdown, let inner = opening(line), inner.character == fence.character, inner.length == fence.length, !inner.info.isEmpty {
                    depth += 1
                }
                body.append(line)
            }
            if path == nil, let first = body.first { path = pathInComment(first) }
            blocks.append(FencedBlock(language: language, path: path, content: body.joined(separator: "\n") + "\n", closed: closed))
        }
        return blocks
    }

    /// An opening fence: its character, length and info string.
    private struct Fence {
        /// `` ` `` or `~`.
        var character: Character
        /// How many of them (a closing fence needs at least as many).
        var length: Int
        /// What follows them: language, path, attributes.
        var info: String
    }

    /// The fence a line opens, if it opens one.
    private static func opening(_ line: String) -> Fence? {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard let first = trimmed.first, first == "`" || first == "~" else { return nil }
        let run = trimmed.prefix { $0 == first }
        guard run.count >= 3 else { return nil }
        let info = trimmed.dropFirst(run.count).trimmingCharacters(in: .whitespaces)
        if first == "`" && info.contains("`") { return nil }
        return Fence(character: first, length: run.count, info: info)
    }

    /// Whether `line` closes `fence`: the same character, at least as many, nothing after.
    private static func isClosing(_ line: String, fence: Fence) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count >= fence.length && trimmed.allSatisfy { $0 == fence.character }
    }

    /// Languages of commands to run, not files to write: a path in the prose before them is
    /// what the command opens, not the block's name.
    private static let shells: Set<String> = ["bash", "sh", "shell", "console", "zsh", "powershell", "ps1", "cmd", "terminal"]

    /// A path named on the last non-blank line before a fence, when that line is little more
    /// than the path (`**index.html**`, `### app.js`, `File: style.css`, `2. `data.json`:`) or
    /// ends with a colon after exactly one `code span` holding a path (`Create `style.css`:`).
    /// Ordinary prose ("Open index.html in a browser") names no block.
    private static func pathBefore(_ lines: [String], _ index: Int) -> String? {
        var previous = index - 1
        while previous >= 0 && lines[previous].trimmingCharacters(in: .whitespaces).isEmpty && index - previous <= 2 { previous -= 1 }
        guard previous >= 0 else { return nil }
        let line = lines[previous].trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty, line.count <= 160, opening(line) == nil, !line.allSatisfy({ $0 == "`" || $0 == "~" }) else { return nil }
        var bare = line.trimmingCharacters(in: CharacterSet(charactersIn: "#*>-+ \t"))
        if let number = bare.firstIndex(where: { !$0.isNumber }), number != bare.startIndex, bare[number] == "." || bare[number] == ")" {
            bare = String(bare[bare.index(after: number)...]).trimmingCharacters(in: .whitespaces)
        }
        for label in ["file:", "filename:", "path:", "file name:"] where bare.lowercased().hasPrefix(label) {
            bare = String(bare.dropFirst(label.count)).trimmingCharacters(in: .whitespaces)
        }
        if !bare.contains(" "), let path = pathLike(bare) { return path }
        let spans = line.split(separator: "`", omittingEmptySubsequences: false)
        guard line.hasSuffix(":"), spans.count == 3 else { return nil }
        return pathLike(String(spans[1]))
    }

    /// A path given as a lone comment on a block's first line: `<!-- index.html -->`,
    /// `// app.js`, `/* style.css */`, `# script.py`.
    private static func pathInComment(_ line: String) -> String? {
        var text = line.trimmingCharacters(in: .whitespaces)
        let markers = [("<!--", "-->"), ("/*", "*/"), ("//", ""), ("#", "")]
        guard let (open, close) = markers.first(where: { text.hasPrefix($0.0) }) else { return nil }
        text = String(text.dropFirst(open.count))
        if !close.isEmpty, text.hasSuffix(close) { text = String(text.dropLast(close.count)) }
        text = text.trimmingCharacters(in: .whitespaces)
        for label in ["file:", "filename:", "path:"] where text.lowercased().hasPrefix(label) {
            text = String(text.dropFirst(label.count)).trimmingCharacters(in: .whitespaces)
        }
        guard !text.contains(" ") else { return nil }
        return pathLike(text)
    }

    /// Files that have no extension but are common in repositories.
    private static let bareNames: Set<String> = [".nojekyll", ".gitignore", ".gitattributes", ".editorconfig", "Makefile", "Dockerfile", "CNAME", "requirements.txt"]

    /// `word` as a file path if it looks like one: stripped of Markdown decoration, quotes, a
    /// `path=`-style label and a leading `./`; a `/` or an extension with a letter in it; no
    /// spaces and no URL scheme. Whether the path is *safe* is checked later.
    static func pathLike(_ word: String) -> String? {
        let decoration = CharacterSet(charactersIn: "`*\"'“”‘’:;,()[]<>")
        var token = word.trimmingCharacters(in: decoration.union(.whitespaces))
        for label in ["path=", "file=", "filename=", "title=", "name="] where token.lowercased().hasPrefix(label) {
            token = String(token.dropFirst(label.count)).trimmingCharacters(in: decoration)
        }
        while token.hasPrefix("./") { token.removeFirst(2) }
        guard !token.isEmpty, token.count <= 200, !token.contains(" "), !token.contains("://"), !token.contains("=") else { return nil }
        if bareNames.contains(token) { return token }
        if token.hasSuffix("/") || token.hasSuffix(".") { return nil }
        let name = token.split(separator: "/").last.map(String.init) ?? token
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count >= 2, let fileExtension = pieces.last, (1...10).contains(fileExtension.count),
              fileExtension.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
              fileExtension.contains(where: \.isLetter) else {
            return nil
        }
        return token
    }
}
