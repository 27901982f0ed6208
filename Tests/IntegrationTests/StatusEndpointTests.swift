import Foundation
import Testing
import TestSupport

/// `GET /status/ID` through nginx and the Handler, and its agreement with `llm-deploy-finisher status`.
@Suite(.serialized) struct StatusEndpointTests {
    @Test func reportsProgressToTheSenderOnly() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let id = try stack.submit(["task": "status-check", "nonce": "st", "evaluation_url": "\(evaluator.url)/n"])
            let bearer = ["Authorization": "Bearer \(stack.secret)"]
            let queued = try HTTPClient.send(port: stack.port, method: "GET", path: "/status/\(id)", headers: bearer)
            #expect(queued.status == 200, "\(queued.text)")
            #expect(queued.json?["state"] as? String == "incoming")
            #expect(queued.json?["stage"] as? String == "queued")

            try stack.finisher(["drain"])
            let done = try HTTPClient.send(port: stack.port, method: "GET", path: "/status/\(id)", headers: bearer)
            let body = try #require(done.json)
            #expect(body["state"] as? String == "done")
            #expect(body["task"] as? String == "status-check")
            #expect((body["commit_sha"] as? String)?.count == 40)
            #expect((body["pages_url"] as? String)?.hasSuffix("/pages/status-check/") == true)
            #expect(!done.text.contains(stack.secret))
            #expect(!done.text.contains("YSxiCjEsMgo="), "attachment bodies never appear")

            // The operator's view agrees field for field.
            let operatorView = try stack.finisher(["status", "--json"])
            let rows = try JSONSerialization.jsonObject(with: Data(operatorView.log.utf8)) as? [[String: Any]] ?? []
            let row = try #require(rows.first { $0["id"] as? String == id })
            for key in ["state", "stage", "task", "round", "repo_url", "commit_sha", "pages_url", "received_at"] {
                #expect("\(row[key] ?? "nil")" == "\(body[key] ?? "nil")", "\(key)")
            }

            let cases: [([String: String], String, Int)] = [
                ([:], "/status/\(id)", 401),
                (["Authorization": "Bearer wrong"], "/status/\(id)", 401),
                (["Authorization": "Basic \(stack.secret)"], "/status/\(id)", 401),
                (bearer, "/status/\(String(repeating: "0", count: 32))", 404),
                (bearer, "/status/../../etc/passwd", 400),
            ]
            for (headers, path, status) in cases {
                let response = try HTTPClient.send(port: stack.port, method: "GET", path: path, headers: headers)
                #expect(response.status == status, "\(path) \(headers): \(response.text)")
                #expect(response.json?["error"] is String)
                if status == 401 { #expect(response.headers["www-authenticate"]?.hasPrefix("Bearer") == true) }
            }
            let post = try HTTPClient.send(port: stack.port, path: "/status/\(id)", headers: bearer)
            #expect(post.status == 405 && post.headers["allow"] == "GET")
        }
    }
}
