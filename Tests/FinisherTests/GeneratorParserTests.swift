import Foundation
import Testing
@testable import Finisher

/// The lenient reading of answers, and the review of what they ask for, without a server.
struct GeneratorParserTests {
    /// The files of an answer as path → content.
    static func files(_ text: String) throws -> [String: String] {
        let answer = try GeneratedFilesParser.parse(text)
        return Dictionary(answer.changes.files.map { ($0.path, $0.content) }, uniquingKeysWith: { _, last in last })
    }

    @Test func theContractAndItsCommonVariantsAreRead() throws {
        let contract = try GeneratedFilesParser.parse(#"{"summary": "s", "files": [{"path": "a.txt", "content": "A"}], "delete": ["old.txt"]}"#)
        #expect(contract.changes == GeneratedChanges(files: [.init(path: "a.txt", content: "A")], deletions: ["old.txt"], summary: "s"))
        #expect(contract.problems.isEmpty)
        #expect(try Self.files(#"{"files": {"a.txt": "A", "b/c.md": "C"}}"#) == ["a.txt": "A", "b/c.md": "C"])
        #expect(try Self.files(#"{"index.html": "<p>", "app.js": "1"}"#) == ["index.html": "<p>", "app.js": "1"])
        #expect(try Self.files(#"[{"path": "a.txt", "content": "A"}]"#) == ["a.txt": "A"])
        // A .json file given as a JSON value is written as JSON text.
        #expect(try Self.files(#"{"files": [{"path": "data.json", "content": {"b": 1, "a": [true]}}]}"#)
            == ["data.json": "{\n  \"a\" : [\n    true\n  ],\n  \"b\" : 1\n}\n"])
        // Prose around the JSON.
        #expect(try Self.files("Here it is: {\"files\": [{\"path\": \"a.txt\", \"content\": \"A\"}]} Enjoy!") == ["a.txt": "A"])
    }

    @Test func brokenEntriesAreProblemsAndTheRestIsKept() throws {
        let answer = try GeneratedFilesParser.parse(#"{"files": [{"path": "a.txt", "content": "A"}, {"content": "B"}, {"path": "c.txt"}, 7], "delete": [1]}"#)
        #expect(answer.changes.files == [.init(path: "a.txt", content: "A")])
        #expect(answer.problems == [
            "delete[0] must be a path string", "files[1] has no \"path\" string",
            "files[2] (\"c.txt\") has no \"content\" string (nor a \"from\" source)", "files[3] must be an object {\"path\": …, \"content\": …}",
        ])
    }

    @Test func whatCannotBeReadSaysWhatToSendInstead() {
        #expect(throws: GeneratedFilesParser.Failure.self) { try GeneratedFilesParser.parse("   ") }
        do {
            _ = try GeneratedFilesParser.parse("{\"files\": [\n  {\"path\": \"a\" \"content\": 1}]}")
            Issue.record("bad JSON was accepted")
        } catch {
            #expect(error.description.contains("not valid JSON") && error.description.contains("line 2, column"))
        }
        do {
            _ = try GeneratedFilesParser.parse("I built it for you. It has an index page and a script.")
            Issue.record("prose was accepted")
        } catch {
            #expect(error.description.contains("neither a JSON object of files nor fenced code blocks"))
        }
        do {
            _ = try GeneratedFilesParser.parse(#"{"name": "x", "version": 2}"#)
            Issue.record("a JSON object without files was accepted")
        } catch {
            #expect(error.description.contains("has no \"files\" field"))
        }
    }

    @Test func fencedBlocksFindTheirPathsWhereverModelsPutThem() throws {
        let text = """
            ```html index.html
            <p>
            ```
            ### `js/app.js`

            ```javascript
            let a = 1;
            ```
            File: style.css
            ```css
            p {}
            ```
            ```python title="tools/fix.py"
            print(1)
            ```
            ```yaml
            # .github/workflows/ci.yml
            on: push
            ```
            ~~~ data.csv
            a,b
            ~~~
            Then open `index.html` in a browser:
            ```bash
            python3 -m http.server
            ```
            The page is in index.html, see above.
            ```
            not a file
            ```
            2. `notes/todo.md`:
            ```
            - [ ] more
            ```
            """
        #expect(try Self.files(text) == [
            "index.html": "<p>\n", "js/app.js": "let a = 1;\n", "style.css": "p {}\n", "tools/fix.py": "print(1)\n",
            ".github/workflows/ci.yml": "# .github/workflows/ci.yml\non: push\n", "data.csv": "a,b\n", "notes/todo.md": "- [ ] more\n",
        ])
    }

    @Test func aMarkdownFileMayHoldFencesOfItsOwn() throws {
        let quadruple = "````markdown README.md\n# App\n\n```bash\nopen index.html\n```\n````\n"
        #expect(try Self.files(quadruple) == ["README.md": "# App\n\n```bash\nopen index.html\n```\n"])
        let text = "```markdown README.md\n# App\n\n## Usage\n\n```bash\nopen index.html\n```\n\nDone.\n```\n\n```html index.html\n<p>\n```\n"
        #expect(try Self.files(text) == [
            "README.md": "# App\n\n## Usage\n\n```bash\nopen index.html\n```\n\nDone.\n", "index.html": "<p>\n",
        ])
    }

    @Test func anUnclosedBlockIsAProblemAndALoneHTMLBlockIsTheIndex() throws {
        let cut = try GeneratedFilesParser.parse("```html index.html\n<p>\n```\n```js app.js\nlet a =")
        #expect(cut.changes.files == [.init(path: "index.html", content: "<p>\n")])
        #expect(cut.problems.count == 1 && cut.problems[0].contains("\"app.js\" is not closed"))
        #expect(try Self.files("Here:\n```html\n<!doctype html><p>hi\n```") == ["index.html": "<!doctype html><p>hi\n"])
    }

    @Test func pathsAreRecognisedButNotInvented() {
        #expect(GeneratedFilesParser.pathLike("**index.html**") == "index.html")
        #expect(GeneratedFilesParser.pathLike("`./js/app.js`:") == "js/app.js")
        #expect(GeneratedFilesParser.pathLike("path=\"a/b.md\"") == "a/b.md")
        #expect(GeneratedFilesParser.pathLike("__init__.py") == "__init__.py")
        #expect(GeneratedFilesParser.pathLike(".nojekyll") == ".nojekyll")
        for word in ["html", "javascript", "3.11", "https://cdn.example.com/x.js", "v1.2", "folder/", "a b.txt"] {
            #expect(GeneratedFilesParser.pathLike(word) == nil, "\(word)")
        }
    }

    @Test func theReviewKeepsWhatIsSafeAndSaysWhatIsNot() {
        let changes = GeneratedChanges(files: [
            .init(path: "index.html", content: "<p>"), .init(path: "../x.txt", content: "x"),
            .init(path: "LICENSE", content: "mine"), .init(path: "uid.txt", content: "changed"),
            .init(path: "img/logo.png", content: "PNG"), .init(path: "nul.txt", content: "a\u{0}b"),
            .init(path: "big.txt", content: String(repeating: "x", count: RepositoryDocuments.maximumFileSize + 1)),
            .init(path: "docs", content: "a file where a directory is"), .init(path: "docs/a.md", content: "A"),
        ], deletions: ["../etc", "README.md", "gone.txt", "old/"])
        let review = changes.reviewed(existing: ["old/a.js": Data(), "old/b.js": Data(), "README.md": Data()], attachments: ["uid.txt": Data("id-1\n".utf8)])
        // A file under an attachment's name replaces it (a brief may ask to fix an attached file).
        #expect(review.accepted.files.map(\.path) == ["index.html", "uid.txt"])
        #expect(review.accepted.deletions == ["old"])
        #expect(review.problems.count == 6)
        for fragment in ["\"../x.txt\"", "\"img/logo.png\" is a binary format", "\"nul.txt\" contains NUL", "\"big.txt\" is",
                         "\"docs\" would be both a file and the directory of \"docs/a.md\"", "delete entry \"../etc\""] {
            #expect(review.problems.contains { $0.contains(fragment) }, "\(fragment)")
        }
        #expect(review.notes.count == 3)
        #expect(GeneratedChanges().reviewed(existing: [:], attachments: [:]).problems == [
            "no files were returned: return every file of the app, starting with index.html",
        ])
    }

    @Test func aCopyOfAnAttachmentKeepsTheAttachmentsBytes() {
        let attachments = ["uid.txt": Data("uid-7f3a".utf8), "notes.txt": Data("a\r\nb\n".utf8)]
        let changes = GeneratedChanges(files: [
            .init(path: "uid.txt", content: "uid-7f3a\n"), .init(path: "notes.txt", content: "a\nb"), .init(path: "index.html", content: "<p>"),
        ])
        let review = changes.reviewed(existing: [:], attachments: attachments)
        #expect(review.accepted.files.map(\.path) == ["index.html"])
        #expect(review.problems.isEmpty)
        #expect(review.notes.filter { $0.contains("the same as the attachment") }.count == 2)
        #expect(review.accepted.replacing(attachments).isEmpty)
        let fixed = GeneratedChanges(files: [.init(path: "notes.txt", content: "a\nc\n")]).reviewed(existing: [:], attachments: attachments)
        #expect(fixed.accepted.replacing(attachments) == ["notes.txt"])
    }

    @Test func longTextKeepsItsHeadAndTail() {
        let text = (0..<1000).map(String.init).joined(separator: " ")
        let excerpt = GenerationPrompt.excerpt(text, limit: 400)
        #expect(excerpt.hasPrefix("0 1 2 3") && excerpt.hasSuffix("998 999") && excerpt.contains("characters left out"))
        #expect(excerpt.count < 460)
        #expect(GenerationPrompt.fenced("a ``` b ```` c", language: "md").hasPrefix("`````md\n"))
    }
}
