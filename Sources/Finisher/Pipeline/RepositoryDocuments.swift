import Foundation
import Spool

/// Turns a generator's files into the tree to publish: validated paths, the attachments byte
/// for byte at the root (unless the generator replaced one, as a brief may ask), our MIT `LICENSE`, a README with every required section, and an
/// `index.html` whatever the model did.
struct RepositoryDocuments: Sendable {
    let licenseHolder: String
    let year: Int

    /// The largest file accepted (generators enforce their own, smaller limits on what they
    /// write; this bounds files carried over from earlier rounds), and the largest tree.
    static let maximumFileSize = 20 << 20
    static let maximumTreeSize = 50 << 20

    func assemble(_ report: GenerationReport, attachments: [ReceivedAttachment], request: TaskRequest) throws(PipelineError) -> [String: Data] {
        var tree: [String: Data] = [:]
        var total = 0
        for (path, bytes) in report.tree {
            if let problem = Self.problem(withPath: path) {
                throw .permanent("generated file \(Self.quoted(path)): \(problem)")
            }
            guard bytes.count <= Self.maximumFileSize else {
                throw .permanent("generated file \(path) is larger than \(Self.maximumFileSize) bytes")
            }
            total += bytes.count
            tree[path] = bytes
        }
        // Attachments byte for byte, except those the generator replaced (a fixed script).
        let replaced = Set(report.replacedAttachments)
        for attachment in attachments where !replaced.contains(attachment.name) || tree[attachment.name] == nil {
            total += attachment.bytes.count - (tree[attachment.name]?.count ?? 0)
            tree[attachment.name] = attachment.bytes
        }
        guard total <= Self.maximumTreeSize else { throw .permanent("the tree is larger than \(Self.maximumTreeSize) bytes") }
        tree["LICENSE"] = Data(Self.mitLicense(year: year, holder: licenseHolder).utf8)
        var readme = tree["README.md"].map { String(decoding: $0, as: UTF8.self) }
        if request.round > 1, !report.wroteReadme, let given = readme {
            readme = Self.recordingRound(of: request, summary: report.summary, in: given)
        }
        tree["README.md"] = Data(completeReadme(readme, request: request).utf8)
        if tree["index.html"] == nil { tree["index.html"] = Data(indexLinking(tree.keys.sorted(), request: request).utf8) }
        return tree
    }

    /// Why a generated path may not be written, or `nil`: relative, no `..`, nothing under
    /// `.git/`, no control characters, bounded length.
    static func problem(withPath path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.count > 240 { return "is longer than 240 bytes" }
        if path.hasPrefix("/") || path.hasPrefix("~") { return "is absolute" }
        if path.contains("\\") { return "contains a backslash" }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "contains control characters" }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        if components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { return "has an empty, . or .. component" }
        if components.contains(where: { $0.lowercased() == ".git" }) { return "is inside .git" }
        return nil
    }

    private static func quoted(_ path: String) -> String {
        "\"" + String(path.unicodeScalars.map { $0.value < 0x20 ? "?" : Character($0) }.prefix(80)) + "\""
    }

    /// A README the generator left as it was, with a section saying what this round changed.
    static func recordingRound(of request: TaskRequest, summary: String?, in readme: String) -> String {
        var text = readme
        if !text.hasSuffix("\n") { text += "\n" }
        text += "\n## Round \(request.round) changes\n\n"
        if let summary, !summary.isEmpty { text += "\(summary)\n\n" }
        text += "The brief for this round:\n\n> " + request.brief.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n> ") + "\n"
        return text
    }

    static let readmeSections = ["Summary", "Setup", "Usage", "Code", "License"]

    /// The README as given, with any missing required section appended.
    func completeReadme(_ given: String?, request: TaskRequest) -> String {
        var text = given ?? "# \(request.task)\n"
        let headings = Set(text.split(separator: "\n").filter { $0.hasPrefix("#") }.map {
            $0.drop { $0 == "#" || $0 == " " }.lowercased()
        })
        let fallback: [String: String] = [
            "Summary": "A static web app for the task `\(request.task)`, built from this brief:\n\n> "
                + request.brief.split(separator: "\n").joined(separator: "\n> "),
            "Setup": "Nothing to install: the site is static HTML, CSS and JavaScript, served by GitHub Pages.",
            "Usage": "Open the published page, or serve this directory with any static web server.",
            "Code": "`index.html` is the entry point; the other files are described in the sections above.",
            "License": "MIT: see `LICENSE`.",
        ]
        for section in Self.readmeSections where !headings.contains(where: { $0.hasPrefix(section.lowercased()) }) {
            if !text.hasSuffix("\n") { text += "\n" }
            text += "\n## \(section)\n\n\(fallback[section]!)\n"
        }
        return text
    }

    private func indexLinking(_ paths: [String], request: TaskRequest) -> String {
        let items = paths.filter { $0 != "index.html" }.map { "<li><a href=\"\(HTML.relativeLink($0))\">\(HTML.escape($0))</a></li>" }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(request.task))</title></head>
            <body><h1>\(HTML.escape(request.task))</h1><ul>\(items.joined())</ul></body></html>

            """
    }

    static func mitLicense(year: Int, holder: String) -> String {
        """
        MIT License

        Copyright (c) \(year) \(holder)

        Permission is hereby granted, free of charge, to any person obtaining a copy
        of this software and associated documentation files (the "Software"), to deal
        in the Software without restriction, including without limitation the rights
        to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
        copies of the Software, and to permit persons to whom the Software is
        furnished to do so, subject to the following conditions:

        The above copyright notice and this permission notice shall be included in all
        copies or substantial portions of the Software.

        THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
        IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
        FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
        AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
        LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
        OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
        SOFTWARE.

        """
    }
}
