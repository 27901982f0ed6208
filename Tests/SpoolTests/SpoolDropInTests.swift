import Foundation
import Testing
@testable import Spool

/// `SpoolDirectory`'s reading of manual drop-ins: regular files only, nothing secret filed.
@Suite struct SpoolDropInTests {
    @Test func aValidDropInIsFiledUnderItsIDWithoutItsSecret() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        try Fixtures.body().write(to: URL(fileURLWithPath: "\(root)/incoming/mine.json"))  // carries "secret"
        let modified = spool.modificationDate(of: "mine.json", in: .incoming)
        #expect(spool.dropIns() == ["mine.json"])
        let id = try Fixtures.request().id
        #expect(try spool.adoptDropIn("mine.json") == .adopted(id))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming") == [id.rawValue])
        let filed = try spool.contents(of: id.rawValue, in: .incoming)
        #expect(!String(decoding: filed, as: UTF8.self).contains("correct horse"))
        let task = try TaskRequest.decodeSpoolFile(filed)
        #expect(abs((task.receivedAt ?? .distantPast).timeIntervalSince(modified ?? .distantFuture)) < 1)  // ISO 8601: whole seconds
        #expect(spool.dropIns().isEmpty)
        // The same task dropped in again is a duplicate, and removed.
        try Fixtures.body().write(to: URL(fileURLWithPath: "\(root)/incoming/again.json"))
        #expect(try spool.adoptDropIn("again.json") == .duplicate(id, .incoming))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/incoming/again.json"))
    }

    @Test func nonRegularFilesAreRefusedUnderAnyName() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let outside = "\(Fixtures.temporaryDirectory())/task.json"
        try Fixtures.body().write(to: URL(fileURLWithPath: outside))
        let idName = String(repeating: "b", count: 32)
        #expect(symlink(outside, "\(root)/incoming/link.json") == 0 && symlink(outside, "\(root)/incoming/\(idName)") == 0)
        #expect(symlink(outside, "\(root)/incoming/copying.tmp") == 0)
        #expect(mkfifo("\(root)/incoming/fifo", 0o600) == 0)
        try FileManager.default.createDirectory(atPath: "\(root)/incoming/dir", withIntermediateDirectories: false)
        try Data("{".utf8).write(to: URL(fileURLWithPath: "\(root)/incoming/still.tmp"))
        #expect(Set(spool.dropIns()) == ["link.json", idName, "copying.tmp", "fifo", "dir"])
        for name in spool.dropIns() {
            guard case .refused(let reason) = try spool.adoptDropIn(name) else {
                Issue.record("\(name) was not refused")
                continue
            }
            #expect(reason.contains("regular file"), "\(name): \(reason)")
        }
        #expect(throws: SpoolError.self) { try spool.contents(of: idName, in: .incoming) }
        #expect(try spool.claim(idName) == nil)
        #expect(FileManager.default.fileExists(atPath: outside))
    }

    @Test func aRefusedDropInLosesItsSecretButKeepsTheRest() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        try Fixtures.body(["round": 0]).write(to: URL(fileURLWithPath: "\(root)/incoming/bad.json"))
        guard case .refused(let reason) = try spool.adoptDropIn("bad.json") else {
            Issue.record("accepted round 0")
            return
        }
        #expect(reason.contains("round"))
        let kept = try #require(try JSONSerialization.jsonObject(with: spool.contents(of: "bad.json", in: .incoming)) as? [String: Any])
        #expect(kept["secret"] == nil && kept["round"] as? Int == 0 && kept["nonce"] as? String == "ab12-cd34")
    }
}
