import Foundation
import Spool

/// The offline generator: used when no LLM is configured or the LLM fails past its budget. It
/// builds a small, honest page that presents the brief and links every attachment, and says
/// plainly that no LLM wrote it.
struct TemplateGenerator: Generator {
    let name = "template"

    func generate(_ brief: GenerationBrief, budget: TimeInterval) async throws(PipelineError) -> GenerationReport {
        GenerationReport(tree: files(for: brief))
    }

    private func files(for brief: GenerationBrief) -> [String: Data] {
        let request = brief.request
        let links = brief.attachments.map { attachment in
            "      <li><a href=\"\(HTML.escape(attachment.name))\">\(HTML.escape(attachment.name))</a> "
                + "<small>(\(HTML.escape(attachment.mediaType)), \(attachment.bytes.count) bytes)</small></li>"
        }.joined(separator: "\n")
        let checks = request.checks.map { "      <li><code>\(HTML.escape($0))</code></li>" }.joined(separator: "\n")
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
              <pre id="brief">\(HTML.escape(request.brief))</pre>
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

            Requested: \(request.brief.split(separator: "\n").joined(separator: " "))

            This round was handled by llm-deploy's offline template generator, without a language model:
            the change above is recorded here but not implemented.

            """
        files["README.md"] = Data(previous.utf8)
        return files
    }

    /// Marks a page this generator wrote, so a later round knows it may replace it.
    static let marker = "id=\"generator\""
}

/// HTML text escaping.
enum HTML {
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
