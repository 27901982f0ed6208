import Foundation
import Spool
import Testing
import TestSupport

/// The Finisher engine against real nginx, real git and a loopback evaluator.
@Suite(.serialized) struct FinisherTests {
    /// Notifications the evaluator received for one nonce, as JSON objects.
    static func notifications(_ evaluator: Peer, nonce: String) throws -> [[String: Any]] {
        try evaluator.requests().compactMap { $0["json"] as? [String: Any] }.filter { $0["nonce"] as? String == nonce }
    }

    @Test func aRequestBecomesACommitAPageAndOneNotification() throws {
        let evaluator = try Peer("evaluator.py")
        let wake = "\(Paths.product("llm-deploy-finisher")) drain"
        try withStack(environment: ["LLM_DEPLOY_WAKE": wake]) { stack in
            let nonce = "round-one"
            let id = try stack.submit(["nonce": nonce, "task": "sum-of-sales", "evaluation_url": "\(evaluator.url)/notify"])
            var received: [[String: Any]] = []
            #expect(eventually(timeout: 30) {
                received = (try? Self.notifications(evaluator, nonce: nonce)) ?? []
                return !received.isEmpty
            }, "no notification; log: \(stack.handler!.log)")
            let payload = try #require(received.first)
            #expect(Set(payload.keys) == ["email", "task", "round", "nonce", "repo_url", "commit_sha", "pages_url"])
            #expect(payload["email"] as? String == "student@example.com")
            #expect(payload["task"] as? String == "sum-of-sales")
            #expect(payload["round"] as? Int == 1)
            let repoURL = try #require(payload["repo_url"] as? String)
            let pagesURL = try #require(payload["pages_url"] as? String)
            let sha = try #require(payload["commit_sha"] as? String)
            #expect(sha.count == 40 && sha.allSatisfy(\.isHexDigit))
            #expect(try evaluator.requests().first?["headers"].flatMap { ($0 as? [String: String])?.first { $0.key.lowercased() == "content-type" }?.value } == "application/json")

            // The repository clones over HTTP and holds the licence, README, app and attachment.
            let clone = "\(stack.home)/clone"
            _ = try stack.git(["clone", "--quiet", repoURL, clone])
            #expect(try stack.git(["rev-parse", "HEAD"], in: clone) == sha)
            let license = try String(contentsOfFile: "\(clone)/LICENSE", encoding: .utf8)
            #expect(license.hasPrefix("MIT License") && license.contains("Permission is hereby granted, free of charge"))
            let readme = try String(contentsOfFile: "\(clone)/README.md", encoding: .utf8)
            for section in ["Summary", "Setup", "Usage", "Code", "License"] { #expect(readme.contains("## \(section)")) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(clone)/data.csv")) == Data("a,b\n1,2\n".utf8))
            let index = try Data(contentsOf: URL(fileURLWithPath: "\(clone)/index.html"))

            // The page is live with the committed bytes, the attachment beside it.
            let pagesPath = String(pagesURL.dropFirst("http://127.0.0.1:\(stack.port)".count))
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: pagesPath)
            #expect(page.status == 200)
            #expect(page.body == index)
            #expect(try HTTPClient.send(port: stack.port, method: "GET", path: pagesPath + "data.csv").body == Data("a,b\n1,2\n".utf8))

            // One build, exactly one notification, every stage journaled once.
            usleep(300_000)
            #expect(try Self.notifications(evaluator, nonce: nonce).count == 1)
            #expect(eventually { FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)") })
            let journal = try stack.journal(id)
            #expect(journal["completed"] as? [String] == Stage.allCases.map(\.rawValue))
            #expect(journal["state"] as? String == "done")
        }
    }

    /// A burst of requests starts as many Finishers as there are slots, and no more.
    @Test func aBurstStartsOneFinisherPerSlot() throws {
        let evaluator = try Peer("evaluator.py")
        let directory = Paths.temporaryDirectory("burst")
        let wrapper = "\(directory)/finisher"
        try "#!/bin/sh\necho $$ >> '\(directory)/pids'\nexec '\(Paths.product("llm-deploy-finisher"))' \"$@\"\n"
            .write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        try withStack(environment: ["LLM_DEPLOY_WAKE": "\(wrapper) drain", "LLM_DEPLOY_SLOTS": "2"]) { stack in
            let ids = try (0..<6).map { try stack.submit(["task": "burst-\($0)", "nonce": "b\($0)", "evaluation_url": "\(evaluator.url)/n"]) }
            #expect(eventually(timeout: 60) { ids.allSatisfy { FileManager.default.fileExists(atPath: "\(stack.spool)/done/\($0)") } })
            let pids = Set(try String(contentsOfFile: "\(directory)/pids", encoding: .utf8).split(separator: "\n"))
            #expect(pids.count == 2, "started \(pids.count) Finishers for a burst with 2 slots")
        }
    }

    @Test func roundTwoChangesTheSameRepositoryOnTopOfRoundOne() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let url = "\(evaluator.url)/notify"
            // Round 2 arrives first on disk: it must still wait for round 1.
            let second = try stack.submit(["task": "two-rounds", "round": 2, "nonce": "r2", "brief": "Add a footer.", "evaluation_url": url])
            let first = try stack.submit(["task": "two-rounds", "round": 1, "nonce": "r1", "evaluation_url": url])
            try stack.finisher(["drain"])
            let one = try #require(try Self.notifications(evaluator, nonce: "r1").first)
            let two = try #require(try Self.notifications(evaluator, nonce: "r2").first)
            #expect(one["repo_url"] as? String == two["repo_url"] as? String)
            #expect(two["round"] as? Int == 2)
            let bare = "\(stack.home)/data/git/two-rounds.git"
            let sha2 = try #require(two["commit_sha"] as? String)
            #expect(try stack.git(["rev-parse", "\(sha2)^"], in: bare) == one["commit_sha"] as? String)
            #expect(try stack.git(["rev-list", "--count", "main"], in: bare) == "2")
            let page = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/two-rounds/")
            #expect(page.text.contains("Round 2") && page.text.contains("Add a footer."))
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(first)"))
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(second)"))
        }
    }

    /// Round 2 waits while round 1 is deferred, and `drain` exits instead of spinning over it.
    @Test func aWaitingRoundDoesNotKeepTheFinisherBusy() throws {
        try withStack { stack in
            let first = try stack.submit(["task": "patient", "round": 1, "nonce": "p1"])
            try FileManager.default.moveItem(atPath: "\(stack.spool)/incoming/\(first)", toPath: "\(stack.spool)/deferred/\(first)")
            let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
            let journal: [String: Any] = [
                "id": first, "task": "patient", "round": 1, "email": "student@example.com", "state": "deferred",
                "completed": [], "outputs": [:], "attempts": [], "notifications": [], "deferrals": 1,
                "received_at": ISO8601DateFormatter().string(from: Date()), "updated_at": ISO8601DateFormatter().string(from: Date()),
                "next_attempt_at": later,
            ]
            try JSONSerialization.data(withJSONObject: journal).write(to: URL(fileURLWithPath: "\(stack.spool)/journal/\(first).json"))
            let second = try stack.submit(["task": "patient", "round": 2, "nonce": "p2"])
            let started = Date()
            let run = try stack.finisher(["drain"], timeout: 20)
            #expect(run.status == 0, "\(run.log)")
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/incoming/\(second)"))
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/deferred/\(first)"))
        }
    }

    /// SIGKILL right after each stage is journaled, then `recover`: one repository, one commit,
    /// and the notification with the right payload.
    @Test(arguments: Stage.allCases)
    func aFinisherKilledAfterAStageResumes(_ stage: Stage) throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let task = "crash-after-\(stage.rawValue)"
            let id = try stack.submit(["task": task, "nonce": "n-\(stage.rawValue)", "evaluation_url": "\(evaluator.url)/notify"])
            let killed = try stack.finisher(["drain"], environment: ["LLM_DEPLOY_TEST_KILL_AFTER": stage.rawValue])
            #expect(killed.reason == .uncaughtSignal && killed.status == SIGKILL)
            // The notify queue delivers apart from the slots: its tasks wait in notify/.
            let queue = stage == .notify ? "notify" : "active"
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/\(queue)/\(id)"))
            let journal = try stack.journal(id)
            #expect((journal["completed"] as? [String])?.last == stage.rawValue)

            let recovered = try stack.finisher(["recover"])
            #expect(recovered.status == 0, "\(recovered.log)")
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            let bare = "\(stack.home)/data/git/\(task).git"
            #expect(try stack.git(["rev-list", "--count", "main"], in: bare) == "1")
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(stack.home)/data/git").filter { !$0.hasPrefix(".") } == ["\(task).git"])
            let sent = try Self.notifications(evaluator, nonce: "n-\(stage.rawValue)")
            #expect(sent.count == 1, "notified \(sent.count) times")
            #expect(sent.first?["commit_sha"] as? String == (try stack.git(["rev-parse", "main"], in: bare)))
        }
    }

    @Test func theNotificationIsResentAfterOneTwoAndFourSeconds() throws {
        let evaluator = try Peer("evaluator.py", ["--fail", "3"])
        try withStack { stack in
            let id = try stack.submit(["nonce": "retry", "evaluation_url": "\(evaluator.url)/notify"])
            try stack.finisher(["drain"])
            let times = try evaluator.requests().filter { ($0["json"] as? [String: Any])?["nonce"] as? String == "retry" }
                .compactMap { $0["t"] as? Double }
            #expect(times.count == 4)
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            for (gap, expected) in zip(gaps, [1.0, 2.0, 4.0]) {
                #expect(gap >= expected * 0.9 && gap < expected + 1.5, "gap \(gap) for \(expected)")
            }
            let journal = try stack.journal(id)
            let statuses = (journal["notifications"] as? [[String: Any]])?.map { $0["status"] as? Int }
            #expect(statuses == [500, 500, 500, 200])
        }
    }

    @Test func anEvaluatorDownPastTheHorizonFailsTheTaskAndRetryRecoversIt() throws {
        let evaluator = try Peer("evaluator.py", ["--status", "503"])
        try withStack(environment: ["LLM_DEPLOY_NOTIFY_HORIZON": "3"]) { stack in
            let id = try stack.submit(["nonce": "horizon", "evaluation_url": "\(evaluator.url)/notify"])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(id)"))
            let failure = try stack.journal(id)["failure"] as? String
            #expect(failure?.contains("horizon") == true && failure?.contains("503") == true, "\(failure ?? "nil")")
            // The operator sees why, then retries once the evaluator is back.
            let status = try stack.finisher(["status"])
            #expect(status.status == 0)
            try evaluator.configure([:])
            let retried = try stack.finisher(["retry", id])
            #expect(retried.status == 0, "\(retried.log)")
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try Self.notifications(evaluator, nonce: "horizon").last.map { _ in true } == true)
        }
    }

    @Test func twoFinishersRacingProcessEachTaskExactlyOnce() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: ["LLM_DEPLOY_SLOTS": "2"]) { stack in
            let ids = try (0..<20).map { try stack.submit(["task": "race-\($0)", "nonce": "race-\($0)", "evaluation_url": "\(evaluator.url)/notify"]) }
            let shared = stack
            let results = concurrently(2) { _ in (try? shared.finisher(["drain"]))?.status ?? -1 }
            #expect(results == [0, 0])
            for id in ids {
                #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
                let attempts = try stack.journal(id)["attempts"] as? [[String: Any]] ?? []
                #expect(attempts.count == Stage.allCases.count, "\(id) ran \(attempts.count) stages")
            }
            let nonces = try evaluator.requests().compactMap { ($0["json"] as? [String: Any])?["nonce"] as? String }
            #expect(nonces.count == 20 && Set(nonces).count == 20)
        }
    }

    /// Both Finishers see the same drop-ins; whichever adopts a file first wins, and the other
    /// carries on rather than failing on the file that vanished under it.
    @Test func twoFinishersAdoptingTheSameDropInsBothSucceed() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: ["LLM_DEPLOY_SLOTS": "2"]) { stack in
            for index in 0..<12 {
                var object = stack.request(["task": "drop-\(index)", "nonce": "drop-\(index)", "evaluation_url": "\(evaluator.url)/n"])
                object.removeValue(forKey: "secret")
                let data = try JSONSerialization.data(withJSONObject: object)
                try data.write(to: URL(fileURLWithPath: "\(stack.spool)/incoming/.drop-\(index)"))
                rename("\(stack.spool)/incoming/.drop-\(index)", "\(stack.spool)/incoming/drop-\(index).json")
            }
            let shared = stack
            let runs = concurrently(2) { _ in (try? shared.finisher(["drain"])).map { ($0.status, $0.log) } ?? (-1, "did not run") }
            for (status, log) in runs { #expect(status == 0, "\(log)") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/done").count == 12)
            let nonces = try evaluator.requests().compactMap { ($0["json"] as? [String: Any])?["nonce"] as? String }
            #expect(nonces.count == 12 && Set(nonces).count == 12)
        }
    }

    @Test func badDropInsFailWithAReasonAndOthersStillRun() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let incoming = "\(stack.spool)/incoming"
            func drop(_ name: String, _ object: [String: Any]) throws {
                try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: "\(incoming)/\(name)"))
            }
            var valid = stack.request(["nonce": "manual", "task": "manual-drop", "evaluation_url": "\(evaluator.url)/notify"])
            valid.removeValue(forKey: "secret")
            try Data("{ this is not json".utf8).write(to: URL(fileURLWithPath: "\(incoming)/garbage.json"))
            try drop("hostile.json", stack.request(["nonce": "h", "attachments": [["name": "../../escape.txt", "url": "data:,x"]]]))
            try drop("undecodable.json", stack.request(["nonce": "u", "attachments": [["name": "a.png", "url": "data:image/png;base64,%%%"]]]))
            try drop("manual.json", valid)
            let run = try stack.finisher(["drain"])
            #expect(run.status == 0, "\(run.log)")
            let failed = Set(try FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/failed"))
            #expect(failed == ["garbage.json", "hostile.json", "undecodable.json"])
            let reasons = [
                "garbage.json": "body is not valid JSON", "hostile.json": "attachments[0].name",
                "undecodable.json": "attachments[0].url",
            ]
            for (name, words) in reasons {
                let reason = try String(contentsOfFile: "\(stack.spool)/journal/\(name).rejected", encoding: .utf8)
                #expect(reason.contains(words), "\(name): \(reason)")
            }
            #expect(try Self.notifications(evaluator, nonce: "manual").count == 1)
            let status = try stack.finisher(["status", "--json"])
            let rows = try JSONSerialization.jsonObject(with: Data(status.log.utf8)) as? [[String: Any]] ?? []
            #expect(rows.filter { $0["state"] as? String == "failed" }.count == 3)
            #expect(rows.filter { $0["state"] as? String == "done" }.count == 1)
        }
    }

    @Test func runProcessesOneTaskFileInTheForeground() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            var object = stack.request(["task": "by-hand", "nonce": "hand", "evaluation_url": "\(evaluator.url)/n"])
            object.removeValue(forKey: "secret")
            let file = "\(stack.home)/task.json"
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: file))
            let run = try stack.finisher(["run", file])
            #expect(run.status == 0, "\(run.log)")
            let line = try #require(run.log.split(separator: "\n").last { $0.hasSuffix(": done") })
            let id = String(line.prefix { $0 != ":" })
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(try Self.notifications(evaluator, nonce: "hand").count == 1)
            let refused = try stack.finisher(["run", "\(stack.home)/missing.json"])
            #expect(refused.status != 0 && refused.log.contains("neither a task ID nor a readable file"))
        }
    }

    /// Files that cannot run (a drop-in still being written, an unreadable entry, a damaged task
    /// file under an ID name) neither stop the others nor keep a Finisher spinning.
    @Test func unusableIncomingFilesNeitherBlockNorSpin() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let incoming = "\(stack.spool)/incoming"
            try Data("{\"partial\":".utf8).write(to: URL(fileURLWithPath: "\(incoming)/copying.json.tmp"))
            try FileManager.default.createDirectory(atPath: "\(incoming)/a-directory.json", withIntermediateDirectories: false)
            let damaged = String(repeating: "e", count: 32)
            try Data("{ damaged".utf8).write(to: URL(fileURLWithPath: "\(incoming)/\(damaged)"))
            let id = try stack.submit(["task": "still-runs", "nonce": "s", "evaluation_url": "\(evaluator.url)/n"])
            let started = Date()
            let run = try stack.finisher(["drain"], timeout: 30)
            #expect(run.status == 0, "\(run.log)")
            #expect(Date().timeIntervalSince(started) < 15, "drain kept running")
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"))
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(damaged)"))
            #expect(FileManager.default.fileExists(atPath: "\(incoming)/copying.json.tmp"))
        }
    }

    /// http(s) attachments go through the same guard as the generator's fetch_url: a metadata
    /// address is refused before any connection, an allowlisted loopback host is fetched.
    @Test func attachmentURLsAreFetchedThroughTheAddressGuard() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack(environment: ["LLM_DEPLOY_FETCH_ALLOW": "127.0.0.1"]) { stack in
            let allowed = try stack.submit(["task": "remote-ok", "nonce": "ok", "evaluation_url": "\(evaluator.url)/n",
                                            "attachments": [["name": "health.json", "url": "http://127.0.0.1:\(stack.port)/healthz"]]])
            let refused = try stack.submit(["task": "remote-meta", "nonce": "meta", "evaluation_url": "\(evaluator.url)/n",
                                            "attachments": [["name": "creds.json", "url": "http://169.254.169.254/latest/meta-data/"]]])
            try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(allowed)"))
            let served = try HTTPClient.send(port: stack.port, method: "GET", path: "/pages/remote-ok/health.json")
            #expect(served.text.contains("\"status\":\"ok\""))
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/failed/\(refused)"))
            let failure = try stack.journal(refused)["failure"] as? String ?? ""
            #expect(failure.contains("creds.json") && failure.contains("169.254.169.254"), "\(failure)")
        }
    }

    /// A damaged journal is set aside and the task starts over instead of sticking in active/.
    @Test func anUnreadableJournalIsSetAsideAndTheTaskStartsOver() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let id = try stack.submit(["task": "damaged", "nonce": "d", "evaluation_url": "\(evaluator.url)/n"])
            try Data("{ not a journal".utf8).write(to: URL(fileURLWithPath: "\(stack.spool)/journal/\(id).json"))
            let run = try stack.finisher(["drain"])
            #expect(FileManager.default.fileExists(atPath: "\(stack.spool)/done/\(id)"), "\(run.log)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(stack.spool)/journal").contains { $0.hasPrefix("\(id).json.unreadable-") })
            #expect(try Self.notifications(evaluator, nonce: "d").count == 1)
        }
    }

    @Test func theSystemdUnitsVerify() throws {
        guard let analyze = Paths.which("systemd-analyze") else {
            Issue.record("systemd-analyze is missing: scripts/setup installs the systemd package")
            return
        }
        let directory = Paths.temporaryDirectory("units")
        let units = "\(Paths.packageRoot)/deploy/systemd"
        var paths: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: units).sorted() {
            // verify checks that ExecStart exists: point it at this build's executables.
            let text = try String(contentsOfFile: "\(units)/\(name)", encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/", with: "\(Paths.products)/")
            // A template is verified as the instance an operator enables (one per slot).
            let installed = name.replacingOccurrences(of: "@.", with: "@2.")
            try text.write(toFile: "\(directory)/\(installed)", atomically: true, encoding: .utf8)
            paths.append("\(directory)/\(installed)")
        }
        #expect(paths.count == 6)
        // Each path instance starts its own Finisher instance, so the slots work side by side
        // (verify does not look at what a path unit starts).
        let path = try String(contentsOfFile: "\(directory)/llm-deploy-finisher@2.path", encoding: .utf8)
        let started = path.split(separator: "\n").first { $0.hasPrefix("Unit=") }.map { $0.dropFirst(5).replacingOccurrences(of: "%i", with: "2") }
        #expect(started == "llm-deploy-finisher@2.service")
        #expect(FileManager.default.fileExists(atPath: "\(directory)/\(started ?? "")"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyze)
        process.arguments = ["verify", "--man=no"] + paths
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.isEmpty, "warnings: \(text)")
    }
}
