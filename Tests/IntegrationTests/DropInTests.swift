import Foundation
import Spool
import Testing
import TestSupport

/// Manual drop-ins through a real Finisher: only regular files are read, and nothing secret is
/// filed.
@Suite(.serialized) struct DropInTests {
    /// A link in incoming/ (to a valid task outside the spool, under a drop-in name or a task ID)
    /// and a FIFO are refused and moved to failed/ with the reason; the link is never followed.
    @Test func linksAndOtherNonRegularFilesAreRefusedNotFollowed() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let incoming = "\(stack.spool)/incoming"
            var outside = stack.request(["task": "outside-the-spool", "nonce": "outside", "evaluation_url": "\(evaluator.url)/n"])
            outside.removeValue(forKey: "secret")
            let target = "\(stack.home)/outside.json"
            let bytes = try JSONSerialization.data(withJSONObject: outside)
            try bytes.write(to: URL(fileURLWithPath: target))
            let idName = String(repeating: "a", count: 32)
            #expect(symlink(target, "\(incoming)/linked.json") == 0)
            #expect(symlink(target, "\(incoming)/\(idName)") == 0)
            #expect(mkfifo("\(incoming)/pipe.json", 0o600) == 0)
            let valid = try stack.submit(["task": "inside", "nonce": "inside", "evaluation_url": "\(evaluator.url)/n"])

            let run = try stack.finisher(["drain"], timeout: 30)
            #expect(run.status == 0, "\(run.log)")
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(valid)"))
            for name in ["linked.json", idName, "pipe.json"] {
                var info = stat()
                #expect(lstat("\(stack.spool)/failed/\(name)", &info) == 0, "\(name) is not in failed/")
                let reason = (try? String(contentsOfFile: "\(stack.spool)/journal/\(name).rejected", encoding: .utf8)) ?? ""
                #expect(reason.contains("regular file"), "\(name): \(reason)")
            }
            #expect(try String(contentsOfFile: "\(stack.spool)/journal/linked.json.rejected", encoding: .utf8).contains("symbolic link"))
            // Nothing of the linked task was built or notified, and its file is untouched.
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/done") == [valid])
            #expect(try evaluator.requests().compactMap { ($0["json"] as? [String: Any])?["nonce"] as? String } == ["inside"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == bytes)
            #expect(!FileManager.default.fileExists(atPath: "\(stack.home)/data/git/outside-the-spool.git"))
        }
    }

    /// A drop-in that carries the sender's `secret` is built and notified, and the secret is in
    /// no file the spool keeps; a refused one loses its secret too.
    @Test func aDropInsSecretIsNeverFiled() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let incoming = "\(stack.spool)/incoming"
            let valid = stack.request(["task": "with-secret", "nonce": "ws", "evaluation_url": "\(evaluator.url)/n"])
            try JSONSerialization.data(withJSONObject: valid).write(to: URL(fileURLWithPath: "\(incoming)/with-secret.json"))
            // Named like a task ID: claimed as it is, not adopted, and still filed without its secret.
            let named = stack.request(["task": "named-with-secret", "nonce": "nws", "evaluation_url": "\(evaluator.url)/n"])
            let namedID = TaskID(email: "student@example.com", task: "named-with-secret", round: 1, nonce: "nws").rawValue
            try JSONSerialization.data(withJSONObject: named).write(to: URL(fileURLWithPath: "\(incoming)/\(namedID)"))
            let invalid = stack.request(["task": "bad-with-secret", "nonce": "bws", "round": 0])
            try JSONSerialization.data(withJSONObject: invalid).write(to: URL(fileURLWithPath: "\(incoming)/bad-with-secret.json"))

            let run = try stack.finisher(["drain"])
            #expect(run.status == 0, "\(run.log)")
            let id = TaskID(email: "student@example.com", task: "with-secret", round: 1, nonce: "ws").rawValue
            let done = try Data(contentsOf: URL(fileURLWithPath: "\(stack.spool)/done/\(id)"))
            #expect(try TaskRequest.decodeSpoolFile(done).task == "with-secret")
            #expect(try TaskRequest.decodeSpoolFile(Data(contentsOf: URL(fileURLWithPath: "\(stack.spool)/done/\(namedID)"))).task == "named-with-secret")
            #expect(try Set(Self.notified(evaluator)) == ["ws", "nws"])
            let rejected = try Data(contentsOf: URL(fileURLWithPath: "\(stack.spool)/failed/bad-with-secret.json"))
            #expect((try JSONSerialization.jsonObject(with: rejected) as? [String: Any])?["nonce"] as? String == "bws")
            for directory in ["incoming", "active", "deferred", "done", "failed", "journal", "tmp"] {
                for name in try FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/\(directory)") {
                    let text = (try? String(contentsOfFile: "\(stack.spool)/\(directory)/\(name)", encoding: .utf8)) ?? ""
                    #expect(!text.contains(stack.secret), "\(directory)/\(name) holds the secret")
                }
            }
        }
    }

    static func notified(_ evaluator: Peer) throws -> [String] {
        try evaluator.requests().compactMap { ($0["json"] as? [String: Any])?["nonce"] as? String }
    }
}
