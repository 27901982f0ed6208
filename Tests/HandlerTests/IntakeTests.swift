import Foundation
import Testing
@testable import Handler
@testable import Spool

/// The Handler's request logic, driven directly: every refusal leaves the spool untouched.
@Suite struct IntakeTests {
    let root: String
    let intake: Intake

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("intake-\(UUID().uuidString)").path
        intake = Intake(
            spool: try SpoolDirectory(root: root),
            secrets: SecretBook(shared: "shared-secret", perSender: ["vip@example.com": "vip-secret"]),
            maximumBody: 4096, evaluationURLs: EvaluationURLPolicy(allowlist: HostAllowlist([.init(host: "127.0.0.1", port: 1)])),
            waker: nil)
    }

    nonisolated(unsafe) static let valid: [String: Any] = [
        "email": "student@example.com", "secret": "shared-secret", "task": "t-1", "round": 1, "nonce": "n",
        "brief": "b", "checks": [], "evaluation_url": "http://127.0.0.1:1/notify", "attachments": [],
    ]

    func post(_ object: [String: Any], contentType: String? = "application/json") throws -> Intake.Outcome {
        intake.handle(IncomingRequest(
            method: "POST", path: "/request", contentType: contentType,
            body: Array(try JSONSerialization.data(withJSONObject: object))))
    }

    func spooledFiles() throws -> [String] {
        try SpoolState.allCases.flatMap { try FileManager.default.contentsOfDirectory(atPath: "\(root)/\($0.rawValue)") }
            + FileManager.default.contentsOfDirectory(atPath: "\(root)/tmp")
    }

    func json(_ response: OutgoingResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
    }

    @Test func acceptsAndThenRecognisesTheDuplicate() throws {
        let first = try post(Self.valid)
        #expect(first.response.status == 200)
        let body = try json(first.response)
        #expect(body["status"] as? String == "accepted")
        #expect(body["duplicate"] as? Bool == false)
        #expect(body["id"] as? String == first.id?.rawValue)
        #expect(body["task"] as? String == "t-1")
        #expect(body["nonce"] as? String == "n")
        let second = try post(Self.valid)
        #expect(try json(second.response)["duplicate"] as? Bool == true)
        #expect(try spooledFiles() == [first.id!.rawValue])
    }

    @Test func refusalsLeaveNothing() throws {
        var wrongSecret = Self.valid
        wrongSecret["secret"] = "shared-secreT"
        var vipWithShared = Self.valid
        vipWithShared["email"] = "vip@example.com"
        var missingSecret = Self.valid
        missingSecret.removeValue(forKey: "secret")
        var numericSecret = Self.valid
        numericSecret["secret"] = 12
        var badRound = Self.valid
        badRound["round"] = "two"
        let cases: [(IncomingRequest, Int, String?)] = [
            (IncomingRequest(method: "GET", path: "/request", body: []), 405, nil),
            (IncomingRequest(method: "POST", path: "/elsewhere", contentType: "application/json", body: []), 404, nil),
            (IncomingRequest(method: "POST", path: "/request", contentType: "text/plain", body: Array("{}".utf8)), 415, "Content-Type"),
            (IncomingRequest(method: "POST", path: "/request", contentType: nil, body: Array("{}".utf8)), 415, "Content-Type"),
            (IncomingRequest(method: "POST", path: "/request", contentType: "application/json", body: [UInt8](repeating: 32, count: 5000)), 413, "body"),
            (IncomingRequest(method: "POST", path: "/request", contentType: "application/json", body: [], bodyExceedsLimit: true), 413, "body"),
            (IncomingRequest(method: "POST", path: "/request", contentType: "application/json", body: Array("{\"email\":".utf8)), 400, "body"),
            (IncomingRequest(method: "POST", path: "/request", contentType: "application/json", body: Array("[1]".utf8)), 400, "body"),
        ]
        for (request, status, field) in cases {
            let outcome = intake.handle(request)
            #expect(outcome.response.status == status, "\(request.method) \(request.path) \(request.contentType ?? "-")")
            #expect(try json(outcome.response)["field"] as? String == field)
            #expect(outcome.id == nil)
        }
        #expect(intake.handle(IncomingRequest(method: "PUT", path: "/request", body: [])).response.headers.first { $0.0 == "Allow" }?.1 == "POST")
        for (object, status, field) in [
            (wrongSecret, 403, "secret"), (vipWithShared, 403, "secret"), (missingSecret, 400, "secret"),
            (numericSecret, 400, "secret"), (badRound, 400, "round"),
        ] as [([String: Any], Int, String)] {
            let outcome = try post(object)
            #expect(outcome.response.status == status)
            #expect(try json(outcome.response)["field"] as? String == field)
        }
        #expect(try spooledFiles().isEmpty)
    }

    @Test func perSenderSecretsApply() throws {
        var vip = Self.valid
        vip["email"] = "vip@example.com"
        vip["secret"] = "vip-secret"
        #expect(try post(vip).response.status == 200)
    }

    @Test func acceptsJSONMediaTypeVariants() {
        #expect(Intake.isJSON("application/json"))
        #expect(Intake.isJSON("Application/JSON; charset=utf-8"))
        #expect(Intake.isJSON("application/vnd.api+json"))
        #expect(!Intake.isJSON("text/json"))
        #expect(!Intake.isJSON("application/jsonp"))
        #expect(!Intake.isJSON(nil))
    }

    @Test func anUnwritableSpoolAnswers503WithRetryAfter() throws {
        // Deliveries write into incoming/ (unnamed until complete): take it away.
        try FileManager.default.removeItem(atPath: "\(root)/incoming")
        let outcome = try post(Self.valid)
        #expect(outcome.response.status == 503)
        #expect(outcome.response.headers.contains { $0 == ("Retry-After", "30") })
        #expect(try SpoolState.allCases.filter { $0 != .incoming }.allSatisfy {
            try FileManager.default.contentsOfDirectory(atPath: "\(root)/\($0.rawValue)").isEmpty
        })
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/tmp").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/incoming"))
    }

    @Test func responsesAreCGIWithJSON() {
        let bytes = ResponseBodies.failure(405, "method_not_allowed", "no", headers: [("Allow", "POST")]).cgiBytes()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("Status: 405 Method Not Allowed\r\nContent-Type: application/json\r\n"))
        #expect(text.contains("\r\nAllow: POST\r\n\r\n{"))
    }

    /// The hand-written bodies are the bytes `JSONEncoder` (sorted keys, slashes unescaped) gave.
    @Test func responseBodiesMatchJSONEncoder() throws {
        struct Accepted: Encodable { var status = "accepted", id: String, task: String, round: Int, nonce: String, duplicate: Bool }
        struct Failure: Encodable { var error: String, field: String?, message: String }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for text in ["t-1", "quote \" and \\ and / and \u{1}\n", "é 😀 \u{2028}", ""] {
            var task = try TaskRequest(validating: JSONValue.parse(JSONSerialization.data(withJSONObject: Self.valid)))
            task.task = text
            task.nonce = text + "n"
            task.round = 9_999
            for duplicate in [false, true] {
                let expected = try encoder.encode(Accepted(id: task.id.rawValue, task: text, round: 9_999, nonce: text + "n", duplicate: duplicate))
                #expect(ResponseBodies.accepted(task, id: task.id, duplicate: duplicate).body == Array(expected) + [0x0A])
            }
            for field in [nil, text] {
                let expected = try encoder.encode(Failure(error: "invalid_request", field: field, message: text + " must be"))
                #expect(ResponseBodies.failure(400, "invalid_request", field: field, text + " must be").body == Array(expected) + [0x0A])
            }
        }
    }

    @Test func wakeSettingIsParsed() {
        #expect(FinisherWaker.arguments(from: "none", handlerExecutable: nil) == nil)
        #expect(FinisherWaker.arguments(from: "/usr/bin/x drain --quiet", handlerExecutable: nil) == ["/usr/bin/x", "drain", "--quiet"])
        #expect(FinisherWaker.arguments(from: nil, handlerExecutable: "/nonexistent/llm-deploy-handler") == ["llm-deploy-finisher", "drain"])
    }

    @Test func configurationRefusesToStartWithoutASecret() {
        #expect(throws: ConfigurationError.self) { try HandlerConfiguration(environment: ServiceEnvironment([:])) }
        #expect(throws: ConfigurationError.self) {
            try HandlerConfiguration(environment: ServiceEnvironment(["LLM_DEPLOY_SECRET": "x", "LLM_DEPLOY_MAX_BODY": "huge"]))
        }
    }
}
