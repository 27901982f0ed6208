import Foundation
import Testing
import TestSupport

/// The offline template's page through nginx, the Handler and a Finisher, as served.
@Suite(.serialized) struct TemplateOutputTests {
    /// A 7 MB brief of characters that escape sixfold is built, published and notified, and an
    /// attachment named like a script URL is linked as a file of the site.
    @Test func aHugeBriefAndAHostileAttachmentNameGiveASafePublishedPage() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let id = try stack.submit([
                "task": "huge-brief", "nonce": "huge", "evaluation_url": "\(evaluator.url)/n",
                "brief": String(repeating: "\"", count: 7_000_000),
                "attachments": [["name": "javascript:alert(1)", "url": "data:text/plain,hello"]],
            ])
            let run = try stack.finisher(["drain"], timeout: 120)
            #expect(run.status == 0, "\(run.log.suffix(2000))")
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log.suffix(2000))")
            let notice = try #require(try evaluator.requests().compactMap { $0["json"] as? [String: Any] }.first)
            let pagesURL = try #require(notice["pages_url"] as? String)
            let path = String(pagesURL.dropFirst("http://127.0.0.1:\(stack.port)".count))
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: path)
            #expect(page.status == 200)
            #expect(page.text.contains("href=\"./javascript%3Aalert%281%29\""))
            #expect(!page.text.contains("href=\"javascript:"))
            #expect(page.text.contains("The brief is 7000000 bytes long"))
            // The link reaches the attachment itself.
            let attachment = try HTTPClient.send(port: stack.port, method: "GET", path: path + "javascript%3Aalert%281%29")
            #expect(attachment.status == 200 && attachment.text == "hello")
        }
    }
}
