import Foundation
import Spool
import Testing
import TestSupport

/// The accept path through real nginx and the real Handler on loopback.
@Suite(.serialized) struct AcceptPathTests {
    @Test func aValidRequestIsSpooledOnceWithoutItsSecret() throws {
        try withStack { stack in
            let body = stack.request()
            let response = try HTTPClient.postJSON(port: stack.port, body)
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "application/json")
            let json = try #require(response.json)
            #expect(json["status"] as? String == "accepted")
            #expect(json["duplicate"] as? Bool == false)
            let id = try #require(json["id"] as? String)
            #expect(stack.spooledFiles() == ["incoming/\(id)"])
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(stack.spool)/incoming/\(id)"))
            let task = try TaskRequest.decodeSpoolFile(data)
            #expect(task.nonce == body["nonce"] as? String)
            #expect(task.receivedAt != nil)
            #expect(!String(decoding: data, as: UTF8.self).contains(stack.secret))

            let again = try HTTPClient.postJSON(port: stack.port, body)
            #expect(again.status == 200)
            #expect(again.json?["duplicate"] as? Bool == true)
            #expect(again.json?["id"] as? String == id)
            #expect(stack.spooledFiles() == ["incoming/\(id)"])
            // The access log has one line per request, and neither the secret nor the body.
            // (It is written after the response goes out, so wait for it.)
            #expect(eventually { stack.handler!.log.components(separatedBy: "\"msg\":\"request\"").count - 1 == 2 })
            let log = stack.handler!.log
            #expect(!log.contains(stack.secret))
            #expect(!log.contains("captcha-solver-3f2a1") || !log.contains("sum of the CSV"))
        }
    }

    @Test func everyBadInputGetsItsJSONErrorAndLeavesNoFile() throws {
        try withStack(environment: ["LLM_DEPLOY_MAX_BODY": "1m"]) { stack in
            let json = ["Content-Type": "application/json"]
            func post(_ object: [String: Any]) throws -> HTTPResponse { try HTTPClient.postJSON(port: stack.port, object) }
            let cases: [(String, () throws -> HTTPResponse, Int, String?)] = [
                ("malformed JSON", { try HTTPClient.send(port: stack.port, path: "/request", headers: json, body: Data("{\"email\":".utf8)) }, 400, "body"),
                ("not an object", { try HTTPClient.send(port: stack.port, path: "/request", headers: json, body: Data("[1,2]".utf8)) }, 400, "body"),
                ("deep nesting", { try HTTPClient.send(port: stack.port, path: "/request", headers: json, body: Data((String(repeating: "[", count: 100_000)).utf8)) }, 400, "body"),
                ("invalid UTF-8", { try HTTPClient.send(port: stack.port, path: "/request", headers: json, body: Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D])) }, 400, "body"),
                ("round as string", { try post(stack.request(["round": "1"])) }, 400, "round"),
                ("round zero", { try post(stack.request(["round": 0])) }, 400, "round"),
                ("checks not array", { try post(stack.request(["checks": "x"])) }, 400, "checks"),
                ("missing brief", { try post(stack.request(["brief": nil])) }, 400, "brief"),
                ("missing secret", { try post(stack.request(["secret": nil])) }, 400, "secret"),
                ("bad evaluation_url", { try post(stack.request(["evaluation_url": "file:///etc/passwd"])) }, 400, "evaluation_url"),
                ("hostile file name", { try post(stack.request(["attachments": [["name": "../../.ssh/authorized_keys", "url": "data:,x"]]])) }, 400, "attachments[0].name"),
                ("broken data URI", { try post(stack.request(["attachments": [["name": "a.png", "url": "data:image/png;base64,!!!!"]]])) }, 400, "attachments[0].url"),
                ("wrong secret", { try post(stack.request(["secret": "guess"])) }, 403, "secret"),
                ("wrong content type", { try HTTPClient.send(port: stack.port, path: "/request", headers: ["Content-Type": "text/plain"], body: try JSONSerialization.data(withJSONObject: stack.request())) }, 415, "Content-Type"),
                ("no content type", { try HTTPClient.send(port: stack.port, path: "/request", body: try JSONSerialization.data(withJSONObject: stack.request())) }, 415, "Content-Type"),
                ("GET", { try HTTPClient.send(port: stack.port, method: "GET", path: "/request") }, 405, nil),
                ("DELETE", { try HTTPClient.send(port: stack.port, method: "DELETE", path: "/request") }, 405, nil),
                ("TRACE", { try HTTPClient.send(port: stack.port, method: "TRACE", path: "/request") }, 405, nil),
                ("OPTIONS", { try HTTPClient.send(port: stack.port, method: "OPTIONS", path: "/request") }, 405, nil),
                ("over the Handler's limit", { try HTTPClient.send(port: stack.port, path: "/request", headers: json, body: Data(repeating: 0x20, count: 2 << 20)) }, 413, "body"),
                ("over nginx's limit", { try HTTPClient.send(port: stack.port, path: "/request", headers: json, body: Data(repeating: 0x20, count: 26 << 20)) }, 413, "body"),
                ("unknown path", { try HTTPClient.send(port: stack.port, method: "GET", path: "/etc/passwd") }, 404, nil),
            ]
            for (label, send, status, field) in cases {
                let response = try send()
                #expect(response.status == status, "\(label): \(response.text)")
                #expect(response.headers["content-type"] == "application/json", "\(label)")
                let body = response.json
                #expect(body?["error"] is String, "\(label): \(response.text)")
                #expect(body?["field"] as? String == field, "\(label): \(response.text)")
                if status == 405 { #expect(response.headers["allow"] == "POST") }
            }
            // nginx's own 405s (TRACE anywhere, POST to a static file) are JSON with Allow too.
            try FileManager.default.createDirectory(atPath: "\(stack.home)/data/pages/x", withIntermediateDirectories: true)
            try Data("<p>x</p>".utf8).write(to: URL(fileURLWithPath: "\(stack.home)/data/pages/x/index.html"))
            for (method, path) in [("TRACE", "/status/0123"), ("TRACE", "/pages/"), ("POST", "/pages/x/index.html")] {
                let response = try HTTPClient.send(port: stack.port, method: method, path: path)
                #expect(response.status == 405, "\(method) \(path): \(response.text)")
                #expect(response.json?["error"] as? String == "method_not_allowed", "\(method) \(path): \(response.text)")
                #expect(response.headers["allow"] == "GET, HEAD", "\(method) \(path)")
            }
            #expect(stack.spooledFiles().isEmpty)
            #expect(stack.handler!.process.isRunning)
            #expect(!stack.handler!.log.contains(stack.secret))
        }
    }

    /// A body the Handler answers without reading (over its limit) leaves input on the FastCGI
    /// connection, which nginx otherwise keeps open for the next request: that connection must be
    /// drained and closed, so each such body still gets its 413 and later requests are unharmed.
    @Test func aBodyLeftUnreadSpoilsNeitherItsAnswerNorTheNextRequest() throws {
        try withStack(environment: ["LLM_DEPLOY_MAX_BODY": "1m"]) { stack in
            for round in 0..<6 {
                let over = try HTTPClient.send(
                    port: stack.port, path: "/request", headers: ["Content-Type": "application/json"],
                    body: Data(repeating: 0x20, count: (2 + round) << 20))
                #expect(over.status == 413, "round \(round): \(over.text)")
                #expect(over.json?["field"] as? String == "body", "round \(round): \(over.text)")
                let valid = try HTTPClient.postJSON(port: stack.port, stack.request(["nonce": "after-\(round)"]))
                #expect(valid.status == 200, "round \(round): \(valid.text)")
            }
            #expect(stack.spooledFiles().count == 6)
            #expect(stack.handler!.process.isRunning)
        }
    }

    /// An `evaluation_url` the notification client can never reach is refused at the door, as is
    /// a loopback or private address unless `LLM_DEPLOY_NOTIFY_ALLOW` names it.
    @Test func evaluationURLsThatCannotOrMayNotBeNotifiedAreRefused() throws {
        try withStack(environment: ["LLM_DEPLOY_NOTIFY_ALLOW": "127.0.0.1:9"]) { stack in
            let refused = [
                "http://[::1]:9/notify", "http://[2001:4860:4860::8888]/x", "http://2130706433:9/notify", "http://0x7f.1:9/notify",
                "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/x",
                "http://127.0.0.1:10/notify", "http://10.0.0.8/notify", "http://localhost:9/notify",
            ]
            for url in refused {
                let response = try HTTPClient.postJSON(port: stack.port, stack.request(["evaluation_url": url]))
                #expect(response.status == 400, "\(url): \(response.text)")
                #expect(response.json?["field"] as? String == "evaluation_url", "\(url): \(response.text)")
            }
            #expect(stack.spooledFiles().isEmpty)
            let allowed = try HTTPClient.postJSON(port: stack.port, stack.request(["evaluation_url": "http://127.0.0.1:9/notify"]))
            #expect(allowed.status == 200, "\(allowed.text)")
            let published = try HTTPClient.postJSON(port: stack.port, stack.request(["evaluation_url": "https://evaluator.example/notify"]))
            #expect(published.status == 200, "\(published.text)")
        }
    }

    @Test func fiftyConcurrentRequestsMakeFiftyFiles() throws {
        try withStack { stack in
            let bodies = (0..<50).map { _ in stack.request() }
            nonisolated(unsafe) let shared = bodies
            let statuses = concurrently(50) { index in
                (try? HTTPClient.postJSON(port: stack.port, shared[index]))?.status ?? -1
            }
            #expect(statuses == Array(repeating: 200, count: 50))
            let files = stack.spooledFiles()
            #expect(files.count == 50)
            #expect(files.allSatisfy { $0.hasPrefix("incoming/") })
        }
    }

    /// Whatever got a 200 is on disk and complete, even when the Handler dies mid-load.
    @Test func killingTheHandlerUnderLoadLosesNoAcceptedTask() throws {
        try withStack { stack in
            let handlerPID = stack.handler!.pid
            let killer = Thread {
                usleep(300_000)
                kill(handlerPID, SIGKILL)
            }
            killer.start()
            // Each worker keeps sending until the kill has cut it off (a fast Handler finishes a
            // fixed number of requests before the kill), within a bound.
            let results = concurrently(8) { worker -> [(String, Int, String?)] in
                var sent: [(String, Int, String?)] = []
                for index in 0..<5_000 {
                    let body = stack.request(["nonce": "w\(worker)-\(index)"])
                    let response = try? HTTPClient.postJSON(port: stack.port, body)
                    sent.append(("w\(worker)-\(index)", response?.status ?? -1, response?.json?["id"] as? String))
                    if sent.filter({ $0.1 != 200 }).count >= 3 { break }
                }
                return sent
            }.flatMap { $0 }
            let accepted = results.filter { $0.1 == 200 }
            #expect(!accepted.isEmpty, "no request was accepted before the kill")
            #expect(results.contains { $0.1 == 503 }, "the kill came after every request; nothing was tested")
            for (nonce, _, id) in accepted {
                let path = "\(stack.spool)/incoming/\(try #require(id))"
                let task = try TaskRequest.decodeSpoolFile(Data(contentsOf: URL(fileURLWithPath: path)))
                #expect(task.nonce == nonce)
            }
            // Nothing half-written is visible to a Finisher.
            for file in stack.spooledFiles() where file.hasPrefix("incoming/") {
                #expect(throws: Never.self) {
                    try TaskRequest.decodeSpoolFile(Data(contentsOf: URL(fileURLWithPath: "\(stack.spool)/\(file)")))
                }
            }
            // nginx answers in JSON while the Handler is down, and the restarted Handler carries on.
            let down = try HTTPClient.postJSON(port: stack.port, stack.request())
            #expect(down.status == 503)
            #expect(down.json?["error"] as? String == "handler_unavailable")
            try stack.startHandler()
            #expect(try HTTPClient.postJSON(port: stack.port, stack.request()).status == 200)
        }
    }

    /// The FastCGI convention spawn-fcgi and systemd's `StandardInput=socket` follow: the
    /// listening socket arrives as fd 0 and no `--socket` is given.
    @Test func theHandlerServesASocketInheritedOnStandardInput() throws {
        try withStack { stack in
            stack.handler?.stop()
            unlink(stack.socketPath)
            let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                stack.socketPath.utf8CString.withUnsafeBytes { raw.copyMemory(from: $0) }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0 && listen(listener, 64) == 0)
            let handler = try ChildProcess(
                Paths.product("llm-deploy-handler"), [], environment: stack.environment,
                logPath: "\(stack.home)/log/inherited.log", input: FileHandle(fileDescriptor: listener, closeOnDealloc: true))
            defer { handler.stop() }
            #expect(eventually { handler.log.contains("inherited fd 0") }, "\(handler.log)")
            let response = try HTTPClient.postJSON(port: stack.port, stack.request())
            #expect(response.status == 200, "\(response.text) \(handler.log)")
        }
    }

    /// Many large bodies at once: each is answered (accepted, or 503 busy with Retry-After), the
    /// Handler stays up, and whatever was accepted is on disk.
    @Test func concurrentLargeBodiesAreAnsweredWithoutExhaustingMemory() throws {
        try withStack { stack in
            let payload = Data(repeating: 0x41, count: 12 << 20).base64EncodedString()
            let bodies = (0..<8).map { index in
                try! JSONSerialization.data(withJSONObject: stack.request([
                    "nonce": "large-\(index)", "attachments": [["name": "big.bin", "url": "data:application/octet-stream;base64,\(payload)"]],
                ]))
            }
            let shared = bodies
            let responses = concurrently(8) { index in
                try? HTTPClient.send(port: stack.port, path: "/request", headers: ["Content-Type": "application/json"], body: shared[index], timeout: 60)
            }
            var busy = 0
            for response in responses {
                let answer = try #require(response)
                #expect(answer.status == 200 || answer.status == 503, "\(answer.status) \(answer.text)")
                if answer.status == 503 {
                    busy += 1
                    #expect(answer.json?["error"] as? String == "busy" && answer.headers["retry-after"] == "5")
                }
            }
            #expect(stack.handler!.process.isRunning)
            #expect(stack.spooledFiles().count == 8 - busy)
            print("large bodies: \(8 - busy) accepted, \(busy) answered busy")
        }
    }

    @Test func theHandlerRefusesToStartWithoutASecret() throws {
        let home = Paths.temporaryDirectory("nosecret")
        let handler = try ChildProcess(
            Paths.product("llm-deploy-handler"), ["--socket", "\(home)/handler.sock"],
            environment: ["LLM_DEPLOY_HOME": home], logPath: "\(home)/handler.log")
        #expect(handler.waitForExit(timeout: 10) == 78)
        #expect(handler.log.contains("LLM_DEPLOY_SECRET is not set"))
        #expect(!FileManager.default.fileExists(atPath: "\(home)/handler.sock"))
    }

    /// A socket path longer than a Unix socket's 107 bytes (a long LLM_DEPLOY_HOME) is refused
    /// with the reason, as configuration (78), rather than by libfcgi's exit status 232.
    @Test func theHandlerRefusesASocketPathTooLongToBind() throws {
        let home = Paths.temporaryDirectory("longsocket")
        let directory = "\(home)/\(String(repeating: "d", count: 100))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/handler.sock"
        let handler = try ChildProcess(
            Paths.product("llm-deploy-handler"), ["--socket", path],
            environment: ["LLM_DEPLOY_HOME": home, "LLM_DEPLOY_SECRET": "s"], logPath: "\(home)/handler.log")
        #expect(handler.waitForExit(timeout: 10) == 78, "\(handler.log)")
        #expect(handler.log.contains("at most 107 bytes, this one has \(path.utf8.count)"), "\(handler.log)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// The woken Finisher runs detached: own session, stdin from /dev/null, no inherited socket.
    @Test func acceptedRequestsWakeADetachedFinisher() throws {
        let home = Paths.temporaryDirectory("wake")
        let script = "\(home)/fake-finisher"
        try """
            #!/bin/sh
            out="\(home)/woken.$$"
            { echo "args=$*"; echo "sid=$(cut -d' ' -f6 /proc/$$/stat)"; echo "pid=$$"
              echo "spool=$LLM_DEPLOY_SPOOL"; ls -l /proc/$$/fd; } > "$out.tmp"
            mv "$out.tmp" "$out"
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try withStack(environment: ["LLM_DEPLOY_WAKE": "\(script) drain"]) { stack in
            #expect(try HTTPClient.postJSON(port: stack.port, stack.request()).status == 200)
            var reports: [String] = []
            #expect(eventually {
                reports = ((try? FileManager.default.contentsOfDirectory(atPath: home)) ?? []).filter { $0.hasPrefix("woken.") && !$0.hasSuffix(".tmp") }
                return !reports.isEmpty
            })
            let report = try String(contentsOfFile: "\(home)/\(try #require(reports.first))", encoding: .utf8)
            #expect(report.contains("args=drain"))
            let pid = report.split(separator: "\n").first { $0.hasPrefix("pid=") }?.dropFirst(4)
            let sid = report.split(separator: "\n").first { $0.hasPrefix("sid=") }?.dropFirst(4)
            #expect(pid != nil && pid == sid, "the Finisher leads its own session")
            #expect(report.contains("0 -> /dev/null"))
            #expect(!report.contains("socket:"), "no socket inherited: \(report)")
            #expect(report.contains("spool=") )
            // A duplicate wakes nothing.
            _ = try HTTPClient.postJSON(port: stack.port, stack.request(["nonce": "fixed"]))
            usleep(300_000)
            let count = try FileManager.default.contentsOfDirectory(atPath: home).filter { $0.hasPrefix("woken.") }.count
            _ = try HTTPClient.postJSON(port: stack.port, stack.request(["nonce": "fixed"]))
            usleep(300_000)
            #expect(try FileManager.default.contentsOfDirectory(atPath: home).filter { $0.hasPrefix("woken.") }.count == count)
        }
    }

    /// A task spooled while the only slot's Finisher still counted as running is not left to
    /// the timer: when that Finisher exits, the Handler sees the newer task and wakes another.
    @Test func aTaskArrivingAsTheLastFinisherLeavesIsNotStranded() throws {
        let home = Paths.temporaryDirectory("stranded")
        let script = "\(home)/lazy-finisher"
        // A Finisher that looks at nothing: it lives a second and exits.
        try "#!/bin/sh\necho $$ >> '\(home)/starts'\nsleep 1\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try withStack(environment: ["LLM_DEPLOY_WAKE": script, "LLM_DEPLOY_SLOTS": "1"]) { stack in
            _ = try stack.submit(["nonce": "first"])
            usleep(200_000)
            _ = try stack.submit(["nonce": "second"])  // the first Finisher still counts: no spawn now
            func starts() -> Int {
                ((try? String(contentsOfFile: "\(home)/starts", encoding: .utf8)) ?? "").split(separator: "\n").count
            }
            #expect(starts() == 1)
            #expect(eventually(timeout: 10) { starts() == 2 }, "no Finisher was started after the first exited")
            // The second one started after both files, so its exit wakes nobody.
            sleep(3)
            #expect(starts() == 2)
        }
    }

    @Test func renderedConfigPassesNginxTest() throws {
        let home = Paths.temporaryDirectory("conf")
        for directory in ["run", "log", "nginx"] {
            try FileManager.default.createDirectory(atPath: "\(home)/\(directory)", withIntermediateDirectories: true)
        }
        let render = Process()
        render.executableURL = URL(fileURLWithPath: "/bin/sh")
        render.arguments = ["-c", "\"$0\" \"$1\" 18999 > \"$1/nginx.conf\" && nginx -t -p \"$1\" -c \"$1/nginx.conf\" -e stderr 2>&1",
                            "\(Paths.packageRoot)/scripts/nginx-conf", home]
        let output = Pipe()
        render.standardOutput = output
        try render.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        render.waitUntilExit()
        #expect(render.terminationStatus == 0, "\(text)")
        #expect(text.contains("test is successful"))
    }
}
