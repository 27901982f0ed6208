import Foundation
import Spool

/// The offline generator: used when no LLM is configured or the LLM fails past its budget. It
/// builds a small, honest page that presents the brief and links every attachment, and says
/// plainly that no LLM wrote it.
///
/// The page is served from the same origin as the service, so a sender's text never becomes
/// markup or a link target of its choosing: text is escaped, links are relative and
/// percent-encoded. Its copies of the brief and checks are capped so the page stays far below
/// the file limit whatever the request held (escaping can grow text sixfold).
struct TemplateGenerator: Generator {
    let name = "template"

    /// The most of the brief the page shows, and of each check, in UTF-8 bytes.
    static let briefExcerpt = 256 << 10
    static let checkExcerpt = 2 << 10
    /// The most of a later round's brief the README records.
    static let readmeExcerpt = 16 << 10

    func generate(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> GenerationReport {
        GenerationReport(tree: files(for: brief))
    }

    private func files(for brief: GenerationBrief) -> [String: Data] {
        let request = brief.request
        let links = brief.attachments.map { attachment in
            "      <li><a href=\"\(HTML.relativeLink(attachment.name))\">\(HTML.escape(attachment.name))</a> "
                + "<small>(\(HTML.escape(attachment.mediaType)), \(attachment.bytes.count) bytes)</small></li>"
        }.joined(separator: "\n")
        let checks = request.checks.map {
            "      <li><code>\(HTML.escape(Excerpt($0, maximumBytes: Self.checkExcerpt).text))</code></li>"
        }.joined(separator: "\n")
        let shownBrief = Excerpt(request.brief, maximumBytes: Self.briefExcerpt)
        let briefNote = shownBrief.isComplete ? "" : """

              <p class="note" id="brief-truncated">The brief is \(request.brief.utf8.count) bytes long; its first \(shownBrief.text.utf8.count) are shown.</p>
            """
        let page = """
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>\(HTML.escape(request.task))</title>
              <style>
                body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
                pre { white-space: pre-wrap; background: #f5f5f7; padding: 1rem; border-radius: 6px; }
                .note { color: #6e6e73; font-size: 0.9rem; }
              </style>
            </head>
            <body>
              <h1>\(HTML.escape(request.task))</h1>
              <p class="note" id="generator">Round \(request.round). Built by llm-deploy's offline template generator: no language model was used.</p>
              <h2>Brief</h2>
              <pre id="brief">\(HTML.escape(shownBrief.text))</pre>\(briefNote)
              <h2>Attachments</h2>
              <ul id="attachments">
            \(links.isEmpty ? "      <li>None.</li>" : links)
              </ul>
              <h2>Checks</h2>
              <ul id="checks">
            \(checks.isEmpty ? "      <li>None.</li>" : checks)
              </ul>
            </body>
            </html>

            """
        let readme = """
            # \(request.task)

            ## Summary

            A static page for the task `\(request.task)` (round \(request.round)). It was produced by llm-deploy's
            offline template generator, **without a language model**: it presents the brief and links the
            attachments rather than implementing the app.

            ## Setup

            Nothing to install: the site is plain HTML served as-is (GitHub Pages or any static server).

            ## Usage

            Open `index.html`. Attachments sit beside it under their original names.

            ## Code

            - `index.html`: the brief, the attachments and the checks, as one page with inline CSS.

            ## License

            MIT: see `LICENSE`.

            """
        guard request.round > 1, !brief.existingFiles.isEmpty else {
            return ["index.html": Data(page.utf8), "README.md": Data(readme.utf8)]
        }
        // A later round keeps what earlier rounds built. Only a page this generator made is
        // replaced; a model's page stays, and the README records the change as not implemented.
        var files = brief.existingFiles
        let existingPage = files["index.html"].map { String(decoding: $0, as: UTF8.self) } ?? ""
        if files["index.html"] == nil || existingPage.contains(Self.marker) {
            files["index.html"] = Data(page.utf8)
        }
        var previous = files["README.md"].map { String(decoding: $0, as: UTF8.self) } ?? readme
        if !previous.hasSuffix("\n") { previous += "\n" }
        previous += """

            ## Round \(request.round)

            Requested: \(Excerpt(request.brief, maximumBytes: Self.readmeExcerpt).text.split(separator: "\n").joined(separator: " "))

            This round was handled by llm-deploy's offline template generator, without a language model:
            the change above is recorded here but not implemented.

            """
        files["README.md"] = Data(previous.utf8)
        return files
    }

    /// Marks a page this generator wrote, so a later round knows it may replace it.
    static let marker = "id=\"generator\""
}

/// The start of a text, at most `maximumBytes` of UTF-8, cut between characters.
struct Excerpt {
    let text: String
    let isComplete: Bool

    init(_ full: String, maximumBytes: Int) {
        guard full.utf8.count > maximumBytes else {
            text = full
            isComplete = true
            return
        }
        var cut = full.utf8.index(full.utf8.startIndex, offsetBy: maximumBytes)
        while cut > full.startIndex && String.Index(cut, within: full) == nil { cut = full.utf8.index(before: cut) }
        text = String(full[..<cut]) + "…"
        isComplete = false
    }
}

/// HTML text escaping, and link targets that cannot leave the site.
enum HTML {
    /// An `href` for a file of this site: `./` and each path segment percent-encoded (only
    /// RFC 3986 unreserved characters kept), so no name can become a scheme (`javascript:`),
    /// another host (`//host`), a query or a fragment. A path with an empty, `.` or `..`
    /// segment (which the pipeline never writes) is encoded whole, slashes included.
    static func relativeLink(_ path: String) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { segments = [Substring(path)] }
        let encoded = segments.map { segment in
            var encoded: [UInt8] = []
            for byte in segment.utf8 {
                if unreserved.contains(byte) {
                    encoded.append(byte)
                } else {
                    encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
                }
            }
            return String(decoding: encoded, as: UTF8.self)
        }
        return "./" + encoded.joined(separator: "/")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
