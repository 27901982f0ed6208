import Fetch
import Foundation

/// The tools the model may call in the tool loop, and their execution: `list_files`,
/// `read_file`, `write_file`, `delete_file`, `fetch_url` and `finish`.
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

    /// Tools for `brief`'s repository.
    init(_ brief: GenerationBrief, settings: ToolLoopSettings) {
        workspace = ToolWorkspace(brief)
        self.settings = settings
    }

    /// Whether `finish` was called and accepted.
    var finished: Bool { finishedSummary != nil }

    /// The tool names, as the model calls them.
    static let names = ["list_files", "read_file", "write_file", "delete_file", "fetch_url", "finish"]

    /// The function definitions sent with every request of the loop.
    static let definitions: [ChatCompletionsRequest.Tool] = [
        .init(name: "list_files",
              description: "List every file of the repository (path and size), the attachments included.",
              parameters: object([:], required: [])),
        .init(name: "read_file",
              description: "Return a file of the repository or an attachment as text. A spreadsheet (.xlsx) is returned as CSV text "
                + "of its first sheet. Long files are shown with their middle left out.",
              parameters: object(["path": string("Relative path, as list_files shows it.")], required: ["path"])),
        .init(name: "write_file",
              description: "Create or replace a text file with its complete content (no placeholders, not a diff).",
              parameters: object([
                  "path": string("Relative path with forward slashes, e.g. index.html, data.json or .github/workflows/ci.yml."),
                  "content": string("The complete text of the file."),
              ], required: ["path", "content"])),
        .init(name: "delete_file",
              description: "Delete a file, or every file under a directory (path ending in /).",
              parameters: object(["path": string("Relative path of the file or directory.")], required: ["path"])),
        .init(name: "fetch_url",
              description: "GET a public http(s) URL and return the status, content type and body text (JSON, CSV, HTML), "
                + "truncated when long. Private, local and metadata addresses are refused.",
              parameters: object(["url": string("Absolute http:// or https:// URL.")], required: ["url"])),
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

    /// Executes one call; `deadline` bounds a fetch.
    mutating func run(_ call: ChatCompletionsToolCall, until deadline: Date) async -> ToolResult {
        guard Self.names.contains(call.name) else {
            return .refused("there is no tool \(String(call.name.prefix(64)).debugDescription); the tools are " + Self.names.joined(separator: ", "))
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
        func missing(_ keys: String...) -> ToolResult {
            .refused("\(call.name) needs " + keys.map { "\"\($0)\"" }.joined(separator: " and ") + " as string" + (keys.count > 1 ? "s" : ""))
        }
        switch call.name {
        case "list_files":
            return .ok(workspace.list(limit: settings.maximumListedFiles))
        case "read_file":
            guard let path = text("path") else { return missing("path") }
            return workspace.read(path, limit: settings.maximumReadCharacters, spreadsheets: settings.spreadsheets)
        case "write_file":
            guard let path = text("path"), let content = text("content") else { return missing("path", "content") }
            return workspace.write(path, content: content)
        case "delete_file":
            guard let path = text("path") else { return missing("path") }
            return workspace.delete(path)
        case "fetch_url":
            guard let url = text("url") else { return missing("url") }
            return await fetch(url, until: deadline)
        default:
            let summary = (text("summary") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard workspace.hasChanges else {
                return .refused("nothing has been written yet: write the app's files with write_file (index.html first), then call finish")
            }
            finishedSummary = summary.isEmpty ? "Done." : String(summary.prefix(1_000))
            return .ok("Finished.")
        }
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
