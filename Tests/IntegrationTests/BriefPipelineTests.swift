import Foundation
import Testing
import TestSupport

/// Real briefs through the whole pipeline (nginx, the Handler, the Finisher, git, the local
/// forge) with a scripted model behind it.
@Suite(.serialized) struct BriefPipelineTests {
    /// "Fix the bug in the attached execute.py": the fixed script is committed in place of the
    /// attachment, uid.txt byte for byte, and the journal says which attachment was replaced.
    @Test func anAttachedScriptIsFixedInPlaceWhileUidTxtStaysByteIdentical() throws {
        let buggy = "print(1 / 0)\n"
        let fixed = "print(1)\n"
        let uid = Data("7f3a-uid".utf8)
        let answer: [String: Any] = ["summary": "Fixed execute.py.", "delete": [], "files": [
            ["path": "index.html", "content": "<h1>fixed</h1>"], ["path": "execute.py", "content": fixed],
            ["path": "uid.txt", "content": "7f3a-uid\n"],
        ]]
        let script: [String: Any] = ["steps": [
            ["content": String(decoding: try JSONSerialization.data(withJSONObject: answer), as: UTF8.self)],
        ]]
        try GenerationPipelineTests.withModel(script) { stack, _, evaluator in
            let id = try stack.submit([
                "task": "fix-script", "nonce": "fx", "evaluation_url": "\(evaluator.url)/n",
                "brief": "Fix the bug in the attached execute.py. Commit uid.txt unchanged.",
                "attachments": [
                    ["name": "execute.py", "url": "data:text/x-python;base64," + Data(buggy.utf8).base64EncodedString()],
                    ["name": "uid.txt", "url": "data:text/plain;base64," + uid.base64EncodedString()],
                ],
            ])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            let outputs = try #require(try stack.journal(id)["outputs"] as? [String: Any])
            #expect(outputs["replaced_attachments"] as? [String] == ["execute.py"])
            let clone = "\(stack.home)/clone-fix"
            _ = try stack.git(["clone", "--quiet", try #require(outputs["repo_url"] as? String), clone])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(clone)/execute.py")) == Data(fixed.utf8))
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(clone)/uid.txt")) == uid)
        }
    }

    /// A binary file the model gives as base64 is committed and served byte for byte.
    @Test func aBinaryFileFromTheModelIsCommittedAndServedByteForByte() throws {
        let icon = Data((0..<256).map { UInt8($0) } + [0x89, 0x50, 0x4E, 0x47, 0x00, 0x0D, 0x0A])
        let answer: [String: Any] = ["summary": "s", "delete": [], "files": [
            ["path": "index.html", "content": "<img src=\"img/icon.bin.png\">", "encoding": NSNull(), "from": NSNull()],
            ["path": "img/icon.bin.png", "content": icon.base64EncodedString(), "encoding": "base64", "from": NSNull()],
        ]]
        let script: [String: Any] = ["steps": [
            ["content": String(decoding: try JSONSerialization.data(withJSONObject: answer), as: UTF8.self)],
        ]]
        try GenerationPipelineTests.withModel(script) { stack, _, evaluator in
            let id = try stack.submit(["task": "binary-file", "nonce": "bin", "evaluation_url": "\(evaluator.url)/n"])
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            let outputs = try #require(try stack.journal(id)["outputs"] as? [String: Any])
            let clone = "\(stack.home)/clone-binary"
            _ = try stack.git(["clone", "--quiet", try #require(outputs["repo_url"] as? String), clone])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(clone)/img/icon.bin.png")) == icon)
            let served = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/binary-file/img/icon.bin.png")
            #expect(served.status == 200 && served.body == icon)
        }
    }
}
