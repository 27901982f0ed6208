import Foundation
import Spreadsheet

/// The messages sent to the model: the rules (system), the task (user) and, when an answer could
/// not be used, the repair request quoting exactly what was wrong. Attachments and the current
/// repository are shown within character budgets, keeping the head and tail of long files.
struct GenerationPrompt: Sendable {
    /// The most characters of one text attachment shown.
    var attachmentCharacters = 20_000
    /// The most characters of all text attachments shown together.
    var attachmentTotalCharacters = 60_000
    /// The most characters of one existing repository file shown (round ≥ 2).
    var existingFileCharacters = 40_000
    /// The most characters of the existing repository shown together (round ≥ 2).
    var existingTotalCharacters = 150_000
    /// Renders `.xlsx` attachments as CSV.
    var spreadsheets = SpreadsheetReader()
    /// The largest image attachment shown to the model as an image (larger ones are described).
    var imageBytes = 4 << 20
    /// The most images shown in one request.
    var maximumImages = 4

    /// The system and user messages for `brief`; `fenced` asks for one fenced block per file
    /// instead of JSON (an endpoint that refuses `response_format`, where small models write
    /// broken JSON).
    func messages(for brief: GenerationBrief, fenced: Bool = false) -> [ChatCompletionsRequest.Message] {
        [.system(system(round: brief.request.round, fenced: fenced)), userMessage(for: brief, fenced: fenced)]
    }

    /// The task as the user turn: its text, followed by the image attachments as `image_url`
    /// parts (each with the description an endpoint without vision gets instead).
    func userMessage(for brief: GenerationBrief, fenced: Bool = false, closing: String? = nil) -> ChatCompletionsRequest.Message {
        let text = closing.map { user(for: brief, closing: $0) } ?? user(for: brief, fenced: fenced)
        let images = shownImages(brief.attachments)
        guard !images.isEmpty else { return .user(text) }
        let parts = images.map { image in
            ChatCompletionsRequest.Message.Part.image(
                url: "data:\(Self.imageType(image)!);base64,\(image.bytes.base64EncodedString())",
                description: "[The image attachment \(image.name) (\(Self.imageFacts(image))) cannot be shown: this endpoint does not "
                    + "take images. It is committed as is; use it by its URL ./\(image.name).]")
        }
        return ChatCompletionsRequest.Message(role: .user, content: nil, parts: [.text(text)] + parts)
    }

    /// The image attachments shown as images: PNG, JPEG, GIF or WebP within the size limit, and
    /// (but for WebP) with a readable size, so that a damaged file is described rather than sent
    /// to a server that would refuse it (and be taken for one that refuses all images).
    func shownImages(_ attachments: [ReceivedAttachment]) -> [ReceivedAttachment] {
        Array(attachments.filter {
            guard let type = Self.imageType($0), $0.bytes.count <= imageBytes else { return false }
            return type == "image/webp" ? $0.bytes.count >= 30 : Self.imageSize($0) != nil
        }.prefix(maximumImages))
    }

    /// The media type of an image a model can be shown, from its first bytes (not its name).
    static func imageType(_ attachment: ReceivedAttachment) -> String? {
        let bytes = [UInt8](attachment.bytes.prefix(12))
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: Array("GIF8".utf8)) { return "image/gif" }
        if bytes.count == 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) { return "image/webp" }
        return nil
    }

    /// "image/png, 1234 bytes, 64×32 pixels" (the size when the header says it).
    static func imageFacts(_ image: ReceivedAttachment) -> String {
        let size = imageSize(image)
        return "\(imageType(image) ?? image.mediaType), \(image.bytes.count) bytes" + (size.map { ", \($0.width)×\($0.height) pixels" } ?? "")
    }

    /// The width and height a PNG, GIF or JPEG header gives, or `nil`.
    static func imageSize(_ image: ReceivedAttachment) -> (width: Int, height: Int)? {
        let bytes = [UInt8](image.bytes.prefix(64 << 10))
        func big(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= bytes.count else { return nil }
            return bytes[at..<at + count].reduce(0) { $0 << 8 | Int($1) }
        }
        var size: (Int, Int)?
        switch imageType(image) {
        case "image/png": if bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8), let width = big(16, 4), let height = big(20, 4) { size = (width, height) }
        case "image/gif": if bytes.count >= 10 { size = (Int(bytes[6]) | Int(bytes[7]) << 8, Int(bytes[8]) | Int(bytes[9]) << 8) }
        case "image/jpeg":
            // The first start-of-frame marker (SOF0…SOF15 but DHT, JPG and DAC) holds the size.
            var index = 2
            while index + 9 < bytes.count, bytes[index] == 0xFF {
                let marker = bytes[index + 1]
                if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                    if let height = big(index + 5, 2), let width = big(index + 7, 2) { size = (width, height) }
                    break
                }
                guard let length = big(index + 2, 2) else { break }
                index += 2 + length
            }
        default: break
        }
        return size.flatMap { $0.0 > 0 && $0.1 > 0 ? (width: $0.0, height: $0.1) : nil }
    }

    /// The answer format of the plain-text contract: one fenced block per file.
    static let fencedFormat = """
        You build small, complete, static web apps and their repositories, published as they are on GitHub Pages. \
        You receive a brief, the checks the result will be judged by, and any attached files; you answer with the \
        repository's files.

        # Answer format
        - Start with one sentence saying what you built or changed. Then give every file you create or replace as \
        its own fenced code block, the file's path on the opening fence line after the language, like this:
        ```html index.html
        <!doctype html>
        ```
        - Each block holds the complete file. Never abbreviate: no "…", no "rest unchanged", no placeholders or TODOs.
        - Nothing after the last block.


        """

    /// The rules of the answer and of the repository; round ≥ 2 adds the rules of a change.
    func system(round: Int, fenced: Bool = false) -> String {
        var text = fenced ? Self.fencedFormat + Self.repositoryRules : """
            You build small, complete, static web apps and their repositories, published as they are on GitHub Pages. \
            You receive a brief, the checks the result will be judged by, and any attached files; you answer with the \
            repository's files.

            # Answer format
            - Answer with one JSON object and nothing else: {"summary": "…", "files": [{"path": "…", "content": "…"}], "delete": []}
            - "files": every file you create or replace, each with its complete content. Never abbreviate: no "…", no \
            "rest unchanged", no placeholders or TODOs.
            - Data converted from a file you were given is not retyped: give {"path": "data.csv", "from": "data.xlsx"} \
            (optionally "sheet": "name or position") and the pipeline converts it exactly: .xlsx to .csv or .json \
            (dates as ISO dates), .csv to .json, .json to .csv, or a copy of the same kind.
            - A binary file the brief explicitly asks for (a PNG, an icon) is given as base64 with "encoding": "base64"; \
            prefer SVG or CSS wherever they do.
            - "delete": paths of existing files to remove (empty when nothing is removed).
            - "summary": one or two sentences on what you built or changed.


            """ + Self.repositoryRules
        if round > 1 {
            text += """


                # Changing an existing repository
                - This round changes the repository shown in the request; it is not a new app. Return only the files \
                you add or change, each with its complete new content (not a diff). Files you neither return nor \
                delete stay as they are.
                - Keep what works unless the brief says otherwise: earlier checks may be run again.
                - Update README.md to describe this change, and return it.
                """
        }
        return text
    }

    /// The rules for the tool loop: how to work with the tools, then the same repository rules.
    /// `checkRuns`: how many `run_checks` calls are allowed, `nil` when the tool is not offered.
    func toolSystem(round: Int, maximumToolCalls: Int, checkRuns: Int? = nil) -> String {
        var text = """
            You build small, complete, static web apps and their repositories, published as they are on GitHub Pages. \
            You receive a brief, the checks the result will be judged by, and any attached files; you build the \
            repository by calling tools.

            # Working with tools
            - write_file(path, content) creates or replaces one file with its complete content. Never abbreviate: no \
            "…", no "rest unchanged", no placeholders or TODOs.
            - read_file(path) returns a file of the repository or an attachment; a long one is shown with its middle \
            left out, and read_file(path, offset, length) or read_file(path, start_line, end_line) returns any part \
            (offset -2000 is the last 2000 bytes). A spreadsheet (.xlsx) is returned as CSV text of its first sheet (or \
            of "sheet").
            - convert_file(source, destination, sheet) converts data exactly: .xlsx to .csv or .json (every sheet \
            reachable, dates as ISO dates), .csv to .json, .json to .csv. When the brief asks for a converted file (a \
            CSV of the attached workbook), use it rather than retyping the data.
            - fetch_url(url) GETs a public http(s) URL and returns its text (JSON, CSV, HTML), truncated when long. \
            fetch_url(url, save_as) stores the body verbatim in a repository file instead: use it when the brief asks \
            to commit fetched data (data.json), then read_file the parts you need (a chronological list's recent \
            entries are at its end). When the brief asks for data from an API or a page, fetch it instead of \
            inventing values. Private and local addresses are refused.

            """
        if let checkRuns {
            text += """
                - run_checks() serves the files written so far as GitHub Pages will, loads index.html in headless \
                Chromium and runs the brief's JavaScript checks (and earlier rounds'), returning each one's result with \
                console errors and failed requests; run_checks(checks) runs only the numbered ones. Call it once the page \
                is written, fix what fails, then call finish (at most \(checkRuns) calls).

                """
        }
        text += """
            - When every file is written, call finish(summary) with one or two sentences on what you built or changed. \
            Nothing you say outside the tools is published.
            - At most \(maximumToolCalls) tool calls in all: write each file once, completely, and do not read what \
            the request already shows.


            """ + Self.repositoryRules
        if round > 1 {
            text += """


                # Changing an existing repository
                - This round changes the repository shown in the request; it is not a new app. Write only the files \
                you add or change, each with its complete new content (not a diff). Files you neither write nor \
                delete stay as they are.
                - Keep what works unless the brief says otherwise: earlier checks may be run again.
                - Write README.md again, describing this change.
                """
        }
        return text
    }

    /// What a model that stopped calling tools before `finish` is told.
    func toolNudge() -> String {
        "You stopped without calling finish. Continue with the tools: write whatever is still missing with write_file, "
            + "then call finish(summary). Answer only with tool calls."
    }

    /// The repository, attachment and check rules both prompts share.
    static let repositoryRules = """
            # Repository rules
            - Static files only. HTML, CSS and JavaScript run in the browser; no server code runs and there is no build \
            step. Other files the brief asks for (JSON, Markdown, plain text, SVG, CSV, Python, YAML, GitHub Actions \
            workflows under .github/workflows/) are committed as they are.
            - index.html at the repository root is the page that is published and checked.
            - Libraries may be loaded from a CDN (jsDelivr, cdnjs, unpkg) at a pinned version.
            - Paths are relative, with forward slashes: no leading /, no .., nothing under .git/. Files are text; a \
            binary file (a PNG, an icon) only when the brief asks for one, given as base64 with the base64 encoding. \
            Prefer SVG and CSS for graphics.
            - Never put an API key, token, password or other secret in any file. If the app needs a key, the user enters \
            it at run time (a form field, or a query parameter such as ?token=).
            - Follow the brief literally where it names files, ids, words or formats.
            - LICENSE (MIT) is written for you: do not return it.
            - README.md has these sections: Summary, Setup, Usage, Code (how it works, file by file) and License (MIT).

            # Attachments
            - Every attachment is committed byte for byte at the repository root under its own name. The app uses it \
            by its relative URL (fetch('data.csv'), <img src="logo.png">): do not inline or copy it.
            - When the brief asks to change an attached file itself (fix the bug in the attached execute.py, update \
            the attached config), return the complete corrected file under the attachment's exact name: your file \
            replaces the attachment. Return no file with an attachment's name otherwise: an ID file such as uid.txt \
            must stay exactly as attached. Files of earlier rounds follow the same rule: what you do not return \
            stays byte for byte.

            # GitHub Actions workflows
            - A workflow that deploys GitHub Pages replaces the whole published site with what it uploads: it must \
            build and upload the entire site, with actions/upload-pages-artifact and path: . (the repository root) \
            or a built folder that contains index.html and everything the page loads, never a folder holding only \
            its output (result.json alone leaves the site without its page).
            - Such a workflow runs on push to main (and workflow_dispatch), has permissions: contents: read, pages: \
            write, id-token: write, and a deploy job with environment: name: github-pages, url: \
            ${{ steps.deployment.outputs.page_url }}, using actions/configure-pages@v5, \
            actions/upload-pages-artifact@v3 and actions/deploy-pages@v4 (id: deployment).
            - A file the brief says the workflow produces and must not be committed (result.json) is generated in the \
            workflow into the uploaded folder; do not commit it. Every step must pass: set up the language first \
            (actions/setup-python@v5), install the tools it runs (pip install ruff), and fix the code it lints or runs.

            # Pages that graders can read
            Some checks run in a browser; others read index.html as it is committed (XPath, int() of an element's \
            text, "uses fetch()", "mentions the endpoint", "the title is …"). So:
            - Values known when you build (from the brief, an attachment, fetched data) are written into index.html \
            itself, in the elements the checks name, as plain numbers: 1234.5, not "1,234.50" or "$1,234.50" (no \
            thousands separators, currency signs or units inside that element unless the brief asks for them; put \
            a unit in a neighbouring element). JavaScript may then recompute and update them.
            - The app's own JavaScript is inline in index.html, in a <script> element placed before any third-party \
            <script src> (checks such as document.querySelector("script").textContent read the first script), unless \
            the brief says otherwise. It runs on DOMContentLoaded so that libraries loaded after it are ready. Do not \
            move it into a separate .js file unless the brief names one.
            - Titles, ids, classes and texts exactly as the brief and the checks word them: document.title === '…' \
            is exact, with nothing added. A table that checks read by rows has <thead> and <tbody>.
            - When the brief says the page fetches data, index.html calls fetch() with the URL written out literally \
            (the endpoint, or a relative path such as data.json).
            - The repository's own files are referenced by relative URLs (data.json, ./logo.png, never /data.json \
            or an absolute github.io URL): the site is served from a sub-path.

            # Checks
            - The checks are the acceptance criteria; every one must hold. Checks written as JavaScript are evaluated \
            verbatim by the evaluator in a headless browser on the published index.html once it has loaded: every \
            element, id, variable and text they read must exist exactly as written and be filled in within a few \
            seconds of loading, without any click (fetch data at load time). Other checks are judged by reading the \
            repository.
            """

    /// The system and user messages of the tool loop for `brief`.
    func toolMessages(for brief: GenerationBrief, maximumToolCalls: Int, checkRuns: Int? = nil) -> [ChatCompletionsRequest.Message] {
        let closing = brief.request.round == 1
            ? "Build the app with the tools: write every file, including index.html and README.md, then call finish.\n"
            : "Make the change with the tools: write the files you add or change, each complete, with README.md updated to "
                + "describe this change; delete what is no longer wanted; then call finish.\n"
        return [.system(toolSystem(round: brief.request.round, maximumToolCalls: maximumToolCalls, checkRuns: checkRuns)),
                userMessage(for: brief, closing: closing)]
    }

    /// The task: brief, checks verbatim, attachments, and (round ≥ 2) the current repository.
    func user(for brief: GenerationBrief, fenced: Bool = false) -> String {
        let request = brief.request
        if fenced {
            return user(for: brief, closing: request.round == 1
                ? "Answer with every file of the app, including index.html and README.md, each in its own fenced block named by its path.\n"
                : "Answer with only the files you add or change, each complete in its own fenced block named by its path, README.md "
                    + "updated to describe this change.\n")
        }
        let closing = request.round == 1
            ? "Return the JSON object: every file of the app, including index.html and README.md; \"delete\" empty.\n"
            : "Return the JSON object: only the files you add or change, each complete, with README.md updated to describe "
                + "this change; list the paths you remove in \"delete\".\n"
        return user(for: brief, closing: closing)
    }

    /// The task, ending with `closing` under "# Your answer".
    private func user(for brief: GenerationBrief, closing: String) -> String {
        let request = brief.request
        var text = "Task: \(request.task)\nRound: \(request.round) ("
            + (request.round == 1 ? "a new app" : "a change to the app built in earlier rounds") + ")\n\n"
        text += "# Brief\n\n\(request.brief)\n\n"
        text += "# Checks\n\n"
        if request.checks.isEmpty {
            text += "None were given: meet the brief.\n\n"
        } else {
            text += "Each of these must hold, exactly as written:\n\n"
            for (number, check) in request.checks.enumerated() {
                text += "Check \(number + 1):\n\(Self.fenced(check, language: ""))\n"
            }
        }
        text += attachmentsSection(brief.attachments)
        if request.round > 1 {
            text += repositorySection(brief.existingFiles, attachmentNames: Set(brief.attachments.map(\.name)))
        }
        if let feedback = brief.feedback, !feedback.isEmpty {
            text += "# Feedback on an earlier answer\n\n\(feedback)\n\n"
        }
        text += "# Your answer\n\n" + closing
        return text
    }

    /// Each attachment's name, media type and size; text inlined within the budget.
    private func attachmentsSection(_ attachments: [ReceivedAttachment]) -> String {
        guard !attachments.isEmpty else { return "# Attachments\n\nNone.\n\n" }
        var text = "# Attachments\n\nEach is committed at the repository root, unchanged unless the brief asks you to change that file; "
            + "use it by the relative URL shown.\n\n"
        var left = attachmentTotalCharacters
        let images = Set(shownImages(attachments).map(\.name))
        for attachment in attachments {
            let head = "## \(attachment.name)\n\nMedia type \(attachment.mediaType), \(attachment.bytes.count) bytes, URL ./\(attachment.name)\n"
            if let content = Self.text(of: attachment.bytes) {
                let limit = min(attachmentCharacters, left)
                if limit < 200 {
                    text += head + "Text, not shown: the prompt's budget for attachments is spent.\n\n"
                    continue
                }
                let shown = Self.excerpt(content, limit: limit)
                left -= shown.count
                let note = shown.count < content.count ? "Text, shown with its middle left out (\(content.count) characters in all):" : "Text:"
                text += head + note + "\n" + Self.fenced(shown, language: Self.language(of: attachment.name)) + "\n"
            } else if Self.isSpreadsheet(attachment) {
                text += spreadsheetSection(attachment, head: head, left: &left)
            } else if images.contains(attachment.name) {
                text += head + "An image (\(Self.imageFacts(attachment))), shown to you after this text. It is committed as is; "
                    + "reference it by its URL.\n\n"
            } else {
                text += head + "Binary, not shown. It is committed as is; reference it by its URL.\n\n"
            }
        }
        return text
    }

    /// A workbook's first sheet as CSV within the attachments' budget; described as binary when it
    /// cannot be read (legacy `.xls`, a damaged file) or the budget is spent.
    private func spreadsheetSection(_ attachment: ReceivedAttachment, head: String, left: inout Int) -> String {
        let sheet: SpreadsheetReader.Sheet
        do {
            sheet = try spreadsheets.firstSheet(of: attachment.bytes)
        } catch {
            return head + "A spreadsheet (binary), not shown (\(error)). It is committed as is.\n\n"
        }
        let limit = min(attachmentCharacters, left)
        guard limit >= 200 else {
            return head + "A spreadsheet (binary), not shown: the prompt's budget for attachments is spent. It is committed as is.\n\n"
        }
        let shown = Self.excerpt(sheet.csv, limit: limit)
        left -= shown.count
        let note = shown.count < sheet.csv.count ? ", shown with its middle left out (\(sheet.csv.count) characters in all)" : ""
        let names = (try? spreadsheets.sheetNames(of: attachment.bytes)) ?? []
        let others = names.count > 1
            ? "Its sheets: " + names.map(\.debugDescription).joined(separator: ", ") + ". "
            : ""
        return head + "A spreadsheet (binary, committed as is). \(others)Its first sheet, \"\(sheet.name)\" (\(sheet.rows) rows × "
            + "\(sheet.columns) columns), converted to CSV (dates as ISO dates)\(note):\n" + Self.fenced(shown, language: "csv")
            + "To commit a sheet as CSV or JSON, name the workbook as the file's source rather than copying the data.\n\n"
    }

    /// The repository's text files within the budget: README.md and index.html first, then the
    /// smaller files; the rest listed by name. LICENSE and this round's attachments are left out.
    private func repositorySection(_ files: [String: Data], attachmentNames: Set<String>) -> String {
        var text = "# Current repository\n\n"
        guard !files.isEmpty else { return text + "It is empty: build the app from scratch.\n\n" }
        text += "The files as they are now (LICENSE is ours; attachments are shown above).\n\n"
        let priority = ["README.md": 0, "index.html": 1]
        let ordered = files.keys.filter { $0 != "LICENSE" && !attachmentNames.contains($0) }.sorted {
            let (left, right) = (priority[$0] ?? 2, priority[$1] ?? 2)
            return left != right ? left < right : (files[$0]!.count, $0) < (files[$1]!.count, $1)
        }
        var left = existingTotalCharacters
        var omitted: [String] = []
        for path in ordered {
            let bytes = files[path]!
            guard let content = Self.text(of: bytes) else {
                omitted.append("\(path) (binary, \(bytes.count) bytes)")
                continue
            }
            let limit = min(existingFileCharacters, left)
            guard limit >= min(content.count, 500) else {
                omitted.append("\(path) (\(bytes.count) bytes, over the prompt's budget)")
                continue
            }
            let shown = Self.excerpt(content, limit: limit)
            left -= shown.count
            let note = shown.count < content.count
                ? " — middle left out; return this file only if you must change it, and then complete" : ""
            text += "## \(path) (\(bytes.count) bytes\(note))\n\n" + Self.fenced(shown, language: Self.language(of: path)) + "\n"
        }
        if !omitted.isEmpty {
            text += "Not shown (they stay unless you delete them): " + omitted.joined(separator: ", ") + ".\n\n"
        }
        return text
    }

    /// The follow-up after an unusable answer: the exact problems, and what to send instead.
    func repair(problems: [String], round: Int, fenced: Bool = false) -> String {
        var text = "Your answer could not be used:\n"
        for problem in problems { text += "- \(problem)\n" }
        if fenced {
            return text + "\nAnswer again, fixing every problem above: " + (round == 1 ? "every file of the app" : "every file you add or change")
                + ", each complete in its own fenced block with its path on the opening fence line (```html index.html)."
        }
        text += "\nAnswer again with the complete JSON object {\"summary\", \"files\", \"delete\"}, fixing every problem above: "
        text += round == 1 ? "every file of the app, " : "every file you add or change, each complete, "
        text += "as JSON only, with no prose and no code fences around it."
        if problems.contains(where: { $0.contains("cut off") }) {
            text += " Keep it short enough to fit: fewer and shorter files, no inlined data."
        }
        return text
    }

    /// `bytes` as text when they are UTF-8 without NUL characters, else `nil`.
    static func text(of bytes: Data) -> String? {
        guard !bytes.contains(0), let text = String(data: bytes, encoding: .utf8) else { return nil }
        return text
    }

    /// Whether an attachment is an Excel workbook (`.xlsx` ones are shown as CSV; `.xls` only described).
    static func isSpreadsheet(_ attachment: ReceivedAttachment) -> Bool {
        let lowered = attachment.name.lowercased()
        return lowered.hasSuffix(".xlsx") || lowered.hasSuffix(".xls") || attachment.mediaType.contains("spreadsheet")
            || attachment.mediaType == "application/vnd.ms-excel"
    }

    /// `text` cut to about `limit` characters: three quarters from the head, a quarter from the
    /// tail, and a marker saying how much was left out.
    static func excerpt(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        let headCount = limit * 3 / 4
        let tailCount = max(0, limit - headCount)
        let omitted = text.count - headCount - tailCount
        return String(text.prefix(headCount)) + "\n[… \(omitted) characters left out …]\n" + String(text.suffix(tailCount))
    }

    /// `text` in a Markdown fence longer than any run of backticks inside it.
    static func fenced(_ text: String, language: String) -> String {
        var longest = 0
        var run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        return fence + language + "\n" + text + (text.hasSuffix("\n") ? "" : "\n") + fence + "\n"
    }

    /// A fence language for a file name (empty when unknown).
    static func language(of path: String) -> String {
        let languages = [
            "html": "html", "htm": "html", "css": "css", "js": "javascript", "mjs": "javascript", "json": "json", "md": "markdown",
            "svg": "xml", "xml": "xml", "csv": "csv", "py": "python", "yml": "yaml", "yaml": "yaml", "txt": "text", "sh": "bash",
        ]
        return languages[(path as NSString).pathExtension.lowercased()] ?? ""
    }
}
