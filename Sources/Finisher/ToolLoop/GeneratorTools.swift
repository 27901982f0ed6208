import Fetch
import Foundation

/// The tools the model may call in the tool loop, and their execution: `list_files`,
/// `read_file` (whole, or a byte or line range), `write_file`, `delete_file`, `convert_file`
/// (deterministic data conversions), `fetch_url` (shown, or saved verbatim), `run_checks` (the
/// brief's checks in headless Chromium, offered only when the brief has a `checkRunner`) and `finish`.
///
/// Arguments are untrusted JSON: anything missing, mistyped or against the rules is refused with
/// a reason the model can act on, never thrown. Files go through the `ToolWorkspace` (confined
/// to the tree, validated as generated output); URLs through the `URLFetcher` (public hosts
/// only unless the operator allows more).
struct GeneratorTools: Sendable {
    /// The tree being built.
    var workspace: ToolWorkspace
    /// Limits and the fetcher.
    let settings: ToolLoopSettings
    /// The summary given to `finish`, once it was accepted.
    private(set) var finishedSummary: String?
    /// `run_checks`' browser; `nil` when the tool is not offered.
    let checkRunner: ToolCheckRunner?
    /// `run_checks` calls so far.
    private(set) var checkRuns = 0

    /// Tools for `brief`'s repository.
    init(_ brief: GenerationBrief, settings: ToolLoopSettings) {
        workspace = ToolWorkspace(brief)
        self.settings = settings
        checkRunner = brief.checkRunner
    }

    /// The definitions offered in this loop: `run_checks` only with a check runner.
    var offered: [ChatCompletionsRequest.Tool] {
        Self.definitions.filter { $0.function.name != "run_checks" || checkRunner != nil }
    }

    /// Whether `finish` was called and accepted.
    var finished: Bool { finishedSummary != nil }

    /// The tool names, as the model calls them.
    static var names: [String] { definitions.map(\.function.name) }

    /// Every function definition; `offered` is what one loop sends with each request.
    static let definitions: [ChatCompletionsRequest.Tool] = [
        .init(name: "list_files",
              description: "List every file of the repository (path and size), the attachments included.",
              parameters: object([:], required: [])),
        .init(name: "read_file",
              description: "Return a file of the repository or an attachment as text. A spreadsheet (.xlsx) is returned as CSV text "
                + "of its first sheet (or of \"sheet\"). A long file is shown with its middle left out unless you ask for a range: "
                + "bytes with offset (negative counts from the end, e.g. -2000 for the last 2000 bytes) and length, or lines "
                + "with start_line and end_line (1-based, inclusive).",
              parameters: object([
                  "path": string("Relative path, as list_files shows it."),
                  "offset": integer("First byte to return (0-based); negative counts back from the end of the file."),
                  "length": integer("How many bytes to return from offset."),
                  "start_line": integer("First line to return (1-based)."),
                  "end_line": integer("Last line to return (inclusive)."),
                  "sheet": string("For a spreadsheet: the sheet's name or 1-based position."),
              ], required: ["path"])),
        .init(name: "write_file",
              description: "Create or replace a file with its complete content (no placeholders, not a diff). Writing a file "
                + "under an attachment's name replaces that attachment (only when the brief asks to change it). A binary "
                + "file (an image the brief asks for) is given as base64 with encoding \"base64\".",
              parameters: object([
                  "path": string("Relative path with forward slashes, e.g. index.html, data.json or .github/workflows/ci.yml."),
                  "content": string("The complete text of the file, or its bytes in base64 when encoding is base64."),
                  "encoding": .object(["type": .string("string"), "enum": .array([.string("utf-8"), .string("base64")]),
                                       "description": .string("utf-8 (the default) for text, base64 for a binary file.")]),
              ], required: ["path", "content"])),
        .init(name: "delete_file",
              description: "Delete a file, or every file under a directory (path ending in /).",
              parameters: object(["path": string("Relative path of the file or directory.")], required: ["path"])),
        .init(name: "convert_file",
              description: "Convert a data file exactly, without retyping it: .xlsx to .csv or .json (any sheet; dates become "
                + "ISO dates), .csv to .json (an array of objects keyed by the header) or .json to .csv. The result is written "
                + "to destination. Use it whenever the brief asks for a converted or copied data file.",
              parameters: object([
                  "source": string("The attachment or repository file to convert, e.g. data.xlsx."),
                  "destination": string("The file to write, e.g. data.csv."),
                  "sheet": string("For a workbook: the sheet's name or 1-based position (default: the first)."),
              ], required: ["source", "destination"])),
        .init(name: "fetch_url",
              description: "GET a public http(s) URL. Without save_as: return the status, content type and body text (JSON, CSV, "
                + "HTML), truncated when long. With save_as: store the body verbatim in that repository file (nothing passes "
                + "through you, nothing is cut) and return its size and beginning; read_file with a range reads any part. "
                + "Private, local and metadata addresses are refused.",
              parameters: object([
                  "url": string("Absolute http:// or https:// URL."),
                  "save_as": string("Optional repository path to store the body in, e.g. data.json."),
              ], required: ["url"])),
        .init(name: "run_checks",
              description: "Serve the files written so far exactly as GitHub Pages will, load index.html in headless Chromium as "
                + "the evaluator does, and run the brief's JavaScript checks (and earlier rounds' checks): returns passed, failed "
                + "or error per check with the reason, console errors, uncaught exceptions and failed requests. Call it after "
                + "writing the page, fix what fails, then call finish. Only a few calls are allowed.",
              parameters: object([
                  "checks": .object(["type": .string("array"), "items": .object(["type": .string("integer")]),
                                     "description": .string("Optional: the numbers of the checks to run (as the brief numbers them); all by default.")]),
              ], required: [])),
        .init(name: "finish",
              description: "Call once every file is written: ends the work and publishes the repository.",
              parameters: object(["summary": string("One or two sentences: what was built or changed.")], required: ["summary"])),
    ]

    /// A JSON Schema object with string properties.
    private static func object(_ properties: KeyValuePairs<String, JSONTree>, required: [String]) -> JSONTree {
        .members([
            .init(key: "type", value: .string("object")),
            .init(key: "properties", value: .members(properties.map { .init(key: $0.key, value: $0.value) })),
            .init(key: "required", value: .array(required.map { .string($0) })),
            .init(key: "additionalProperties", value: .bool(false)),
        ])
    }

    /// A JSON Schema string with a description.
    private static func string(_ description: String) -> JSONTree {
        .object(["type": .string("string"), "description": .string(description)])
    }

    /// A JSON Schema integer with a description.
    private static func integer(_ description: String) -> JSONTree {
        .object(["type": .string("integer"), "description": .string(description)])
    }

    /// Executes one call; `deadline` bounds a fetch.
    mutating func run(_ call: ChatCompletionsToolCall, until deadline: Date) async -> ToolResult {
        let names = offered.map(\.function.name)
        guard names.contains(call.name) else {
            return .refused("there is no tool \(String(call.name.prefix(64)).debugDescription); the tools are " + names.joined(separator: ", "))
        }
        let arguments: [String: Any]
        if call.arguments.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            arguments = [:]
        } else {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8)) as? [String: Any] else {
                return .refused("the arguments of \(call.name) are not a JSON object (\(call.arguments.utf8.count) bytes, perhaps cut off "
                    + "at the output limit): call it again with valid JSON, writing large files in smaller ones")
            }
            arguments = parsed
        }
        func text(_ key: String) -> String? { arguments[key] as? String }
        func number(_ key: String) -> Int?? {
            guard let value = arguments[key], !(value is NSNull) else { return .some(nil) }
            if let text = value as? String { return Int(text.trimmingCharacters(in: .whitespaces)).map { .some($0) } ?? nil }
            if let number = value as? NSNumber, let exact = Int(exactly: number.doubleValue) { return .some(exact) }
            return nil
        }
        func missing(_ keys: String...) -> ToolResult {
            .refused("\(call.name) needs " + keys.map { "\"\($0)\"" }.joined(separator: " and ") + " as string" + (keys.count > 1 ? "s" : ""))
        }
        switch call.name {
        case "list_files":
            return .ok(workspace.list(limit: settings.maximumListedFiles))
        case "read_file":
            guard let path = text("path") else { return missing("path") }
            var range = ToolWorkspace.ReadRange()
            for (key, slot) in [("offset", \ToolWorkspace.ReadRange.offset), ("length", \.length), ("start_line", \.startLine), ("end_line", \.endLine)] {
                guard let value = number(key) else { return .refused("read_file's \"\(key)\" must be an integer") }
                range[keyPath: slot] = value
            }
            range.sheet = text("sheet")
            return workspace.read(path, range: range, limit: settings.maximumReadCharacters, spreadsheets: settings.spreadsheets)
        case "write_file":
            guard let path = text("path"), let content = text("content") else { return missing("path", "content") }
            let encoding: GeneratedChanges.File.Encoding
            switch text("encoding")?.lowercased() {
            case nil, "utf-8", "utf8", "text": encoding = .utf8
            case "base64": encoding = .base64
            case let other?: return .refused("write_file's encoding is \"utf-8\" or \"base64\", not \(String(other.prefix(40)).debugDescription)")
            }
            return workspace.write(path, content: content, encoding: encoding)
        case "delete_file":
            guard let path = text("path") else { return missing("path") }
            return workspace.delete(path)
        case "convert_file":
            guard let source = text("source"), let destination = text("destination") else { return missing("source", "destination") }
            return convert(source, to: destination, sheet: text("sheet"))
        case "fetch_url":
            guard let url = text("url") else { return missing("url") }
            if let path = text("save_as"), !path.isEmpty { return await save(url, as: path, until: deadline) }
            return await fetch(url, until: deadline)
        case "run_checks":
            guard let runner = checkRunner else { return .refused("run_checks is not available") }
            var numbers: [Int]?
            if let value = arguments["checks"], !(value is NSNull) {
                let count = runner.checks.count
                let list = value as? [Any] ?? []
                let exact = list.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
                guard !list.isEmpty, exact.count == list.count, exact.allSatisfy({ $0 >= 1 && $0 <= count }) else {
                    return .refused("run_checks' \"checks\" is a list of check numbers from 1 to \(count), or left out to run every check")
                }
                numbers = Array(Set(exact)).sorted()
            }
            guard checkRuns < settings.maximumCheckRuns else {
                return .refused("run_checks was called \(checkRuns) times, the most allowed: fix what the last run showed, then call finish")
            }
            checkRuns += 1
            let changes = workspace.changes(summary: nil)
            let report = GenerationReport(tree: workspace.tree, wroteReadme: changes.files.contains { $0.path == "README.md" },
                                          replacedAttachments: workspace.replacedAttachments)
            let budget = min(settings.maximumCheckSeconds, max(5, deadline.timeIntervalSinceNow - 30))
            var result = await runner.run(report, numbers: numbers, budget: budget, limit: settings.maximumCheckCharacters)
            let left = settings.maximumCheckRuns - checkRuns
            result.text += "\n(\(left) run_checks call\(left == 1 ? "" : "s") left.)"
            return result
        default:
            let summary = (text("summary") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard workspace.hasChanges else {
                return .refused("nothing has been written yet: write the app's files with write_file (index.html first), then call finish")
            }
            finishedSummary = summary.isEmpty ? "Done." : String(summary.prefix(1_000))
            return .ok("Finished.")
        }
    }

    /// `convert_file`: `source` converted into `destination`, or why not (nothing is written then).
    private mutating func convert(_ source: String, to destination: String, sheet: String?) -> ToolResult {
        if let problem = RepositoryDocuments.problem(withPath: source) {
            return .refused("source \(GeneratedChanges.quoted(source)) \(problem): give a path as list_files shows it")
        }
        guard source != destination else { return .refused("the destination must be another file than the source") }
        guard let bytes = workspace.current(source) else {
            return .refused("there is no file \(GeneratedChanges.quoted(source)); list_files shows every file")
        }
        if let problem = workspace.problem(writing: destination) { return .refused(problem) }
        switch settings.conversion.convert(source, bytes: bytes, mediaType: workspace.attachments[source]?.mediaType ?? "", to: destination, sheet: sheet) {
        case .failure(let failure):
            return .refused(failure.description)
        case .success(let output):
            let stored = workspace.store(destination, bytes: output.bytes)
            guard stored.outcome == .ok else { return stored }
            return .ok("Wrote \(destination) (\(output.bytes.count) bytes) from \(source): \(output.summary)")
        }
    }

    /// `fetch_url` with `save_as`: the body stored verbatim, or why not (nothing is written then).
    /// The path is checked before anything is fetched; a body over the limit is not saved cut off.
    private mutating func save(_ url: String, as path: String, until deadline: Date) async -> ToolResult {
        if let problem = workspace.problem(writing: path) { return .refused(problem) }
        var fetcher = settings.fetcher
        fetcher.maximumBytes = settings.maximumSavedBytes
        fetcher.wholeBodiesOnly = true
        let page: URLFetcher.Page
        do {
            page = try await fetcher.fetch(url, within: max(1, deadline.timeIntervalSinceNow))
        } catch {
            return error.isRefusal ? ToolResult(text: "Refused: " + error.description, outcome: .refused)
                : ToolResult(text: "Failed: " + error.description, outcome: .failed)
        }
        if page.truncated {
            let declared = page.declaredLength.map { " (it declares \($0) bytes)" } ?? ""
            return .refused("the response from \(page.url) is larger than the \(settings.maximumSavedBytes)-byte limit\(declared): "
                + "nothing was saved; fetch a smaller resource (a filtered or paginated URL)")
        }
        guard (200..<300).contains(page.status) else {
            let preview = String(decoding: page.body.prefix(300), as: UTF8.self)
            return .failed("HTTP \(page.status) from \(page.url): nothing was saved. The body begins: \(preview)")
        }
        let stored = workspace.store(path, bytes: page.body)
        guard stored.outcome == .ok else { return stored }
        var text = "Saved \(page.body.count) bytes from \(page.url) (HTTP \(page.status), Content-Type: \(page.contentType ?? "not given")) "
            + "to \(path), verbatim."
        if let body = GenerationPrompt.text(of: page.body) {
            let lines = body.reduce(0) { $1 == "\n" ? $0 + 1 : $0 } + (body.hasSuffix("\n") || body.isEmpty ? 0 : 1)
            let head = String(body.prefix(settings.maximumSavedPreviewCharacters))
            text += " \(lines) lines. "
            text += head.count < body.count
                ? "Its first \(head.count) characters follow; read_file(path, offset: -2000) reads its end.\n\n\(head)\n[…]"
                : "All of it:\n\n\(head)"
        } else {
            text += " Binary content: not shown."
        }
        return .ok(text)
    }

    /// `fetch_url`: the response described and its text shown (truncated), or why there is none.
    private func fetch(_ url: String, until deadline: Date) async -> ToolResult {
        let page: URLFetcher.Page
        do {
            page = try await settings.fetcher.fetch(url, within: max(1, deadline.timeIntervalSinceNow))
        } catch {
            return error.isRefusal ? ToolResult(text: "Refused: " + error.description, outcome: .refused)
                : ToolResult(text: "Failed: " + error.description, outcome: .failed)
        }
        var text = "HTTP \(page.status) from \(page.url)\n"
        if !page.redirects.isEmpty { text += "Redirected \(page.redirects.count) time\(page.redirects.count == 1 ? "" : "s").\n" }
        text += "Content-Type: \(page.contentType ?? "not given")\n"
        let limitNote = page.truncated ? " (the body is longer: only the first \(settings.fetcher.maximumBytes) bytes were downloaded)" : ""
        guard Self.isText(page.contentType, page.body), let body = String(data: page.body, encoding: .utf8)
            ?? (page.truncated ? String(decoding: page.body, as: UTF8.self) : nil) else {
            return .ok(text + "Binary content, \(page.body.count) bytes\(limitNote): not shown.")
        }
        let limit = settings.maximumFetchCharacters
        if body.count <= limit {
            return .ok(text + "Length: \(body.count) characters, all shown\(limitNote).\n\n" + body)
        }
        return .ok(text + "Length: \(body.count) characters\(limitNote); the first \(limit) are shown.\n\n" + String(body.prefix(limit))
            + "\n[… truncated: \(body.count - limit) more characters]")
    }

    /// Whether a body should be shown as text: a textual media type, or UTF-8 without NUL.
    private static func isText(_ contentType: String?, _ body: Data) -> Bool {
        let type = (contentType ?? "").lowercased()
        if type.hasPrefix("text/") || ["json", "xml", "javascript", "csv", "yaml", "x-www-form-urlencoded"].contains(where: type.contains) {
            return true
        }
        if type.hasPrefix("image/") || type.hasPrefix("audio/") || type.hasPrefix("video/") || type.contains("octet-stream") || type.contains("zip") {
            return false
        }
        return !body.prefix(4_096).contains(0)
    }
}
