import Foundation
import Spool
import Testing
import TestSupport
@testable import Finisher

/// Briefs that ask to change an attached file ("fix the bug in the attached execute.py"): the
/// model's file replaces the attachment, in a single answer and in the tool loop, while an
/// attachment it leaves alone (or merely copies) is committed byte for byte.
struct AttachmentReplacementTests {
    typealias F = GeneratorFixtures
    typealias T = ToolLoopFixtures

    static let buggy = "import sys\nprint(sum(int(x) for x in sys.argv[1:]) / 0)\n"
    static let fixed = "import sys\nprint(sum(int(x) for x in sys.argv[1:]))\n"
    /// No final newline: the evaluator compares the bytes.
    static let uid = Data("uid-42-abc".utf8)

    static var attachments: [ReceivedAttachment] {
        [ReceivedAttachment(name: "execute.py", mediaType: "text/x-python", bytes: Data(buggy.utf8)),
         ReceivedAttachment(name: "uid.txt", mediaType: "text/plain", bytes: uid)]
    }

    static func assembled(_ report: GenerationReport, _ brief: GenerationBrief) throws -> [String: Data] {
        try RepositoryDocuments(licenseHolder: "llm-deploy", year: 2026).assemble(report, attachments: brief.attachments, request: brief.request)
    }

    @Test func aSingleAnswerReplacesTheAttachmentItFixesAndKeepsTheOthersByteForByte() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [[
            "expect": ["system_contains": "your file replaces the attachment"],
            "content": F.answer(["index.html": GeneratorTests.page, "execute.py": Self.fixed, "uid.txt": "uid-42-abc\n"]),
        ]]])
        let brief = F.brief(text: "Fix the bug in the attached execute.py and commit uid.txt unchanged.", attachments: Self.attachments)
        let report = try await F.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 10)

        #expect(report.replacedAttachments == ["execute.py"])
        let repository = try Self.assembled(report, brief)
        #expect(repository["execute.py"] == Data(Self.fixed.utf8))
        #expect(repository["uid.txt"] == Self.uid, "a copy with a final newline is not a replacement")
        #expect(try F.completions(stub).count == 1)
    }

    @Test func theToolLoopWritesOverAnAttachmentAndReadsItsOwnVersionBack() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let stub = try F.stub(key: key, script: ["steps": [
            T.calls([("c1", "write_file", ["path": "execute.py", "content": Self.fixed]),
                     ("c2", "write_file", ["path": "uid.txt", "content": "uid-42-abc\r\n"]),
                     ("c3", "read_file", ["path": "execute.py"]), ("c4", "list_files", [:])]),
            T.calls([("c5", "delete_file", ["path": "execute.py"]), ("c6", "write_file", ["path": "index.html", "content": GeneratorTests.page])]),
            T.calls([("c7", "finish", ["summary": "Fixed execute.py."])]),
        ]])
        let brief = F.brief(text: "Fix the bug in the attached execute.py.", attachments: Self.attachments)
        let report = try await T.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 30)

        #expect(report.mode == .tools)
        #expect(report.replacedAttachments == ["execute.py"])
        let repository = try Self.assembled(report, brief)
        #expect(repository["execute.py"] == Data(Self.fixed.utf8))
        #expect(repository["uid.txt"] == Self.uid)

        let results = T.toolResults(try #require(try F.completions(stub).last))
        #expect(results["c1"]?.contains("replaces the attachment") == true)
        #expect(results["c2"]?.contains("committed unchanged") == true)
        #expect(results["c3"] == Self.fixed)
        #expect(results["c4"]?.contains("execute.py\t\(Self.fixed.utf8.count) bytes\twritten by you") == true)
        #expect(results["c5"]?.hasPrefix("Refused: execute.py is an attachment") == true)
    }

    @Test func roundTwoKeepsEarlierFilesItDoesNotReturnByteForByte() async throws {
        let key = "sk-test-\(UUID().uuidString)"
        let existing = ["index.html": Data(GeneratorTests.page.utf8), "execute.py": Data(Self.buggy.utf8), "uid.txt": Self.uid,
                        "README.md": Data("# App\n".utf8)]
        let stub = try F.stub(key: key, script: ["steps": [[
            "expect": ["last_user_contains": "## execute.py"],
            "content": F.answer(["execute.py": Self.fixed, "README.md": "# App\n\nFixed.\n"]),
        ]]])
        let brief = F.brief(round: 2, text: "Fix the bug in execute.py.", existing: existing)
        let report = try await F.generator(stub, key: key, logs: LogRecorder()).generate(brief, budget: 10)
        #expect(report.tree["execute.py"] == Data(Self.fixed.utf8))
        #expect(report.tree["uid.txt"] == Self.uid)
        #expect(report.tree["index.html"] == existing["index.html"])
        #expect(report.replacedAttachments.isEmpty)
    }
}
