import Logging
import Spool

/// The Handler's request logic, independent of FastCGI so tests can drive it directly:
/// route, check, authenticate, spool, wake.
///
/// Every refusal is decided before anything is written, so no non-200 answer leaves a file.
struct Intake: Sendable {
    let spool: SpoolDirectory
    let secrets: SecretBook
    let maximumBody: Int
    let evaluationURLs: EvaluationURLPolicy
    let waker: FinisherWaker?

    /// The outcome for the access log: the response and, when spooled, the task ID.
    struct Outcome: Sendable {
        var response: OutgoingResponse
        var id: TaskID?
    }

    func handle(_ request: IncomingRequest) -> Outcome {
        if request.path.hasPrefix("/status/") { return status(request) }
        guard request.path == "/request" || request.path == "/request/" else {
            return Outcome(response: ResponseBodies.failure(404, "not_found", "no such endpoint: use POST /request"))
        }
        guard request.method == "POST" else {
            return Outcome(response: ResponseBodies.failure(
                405, "method_not_allowed", "\(request.method) is not allowed on /request: use POST",
                headers: [("Allow", "POST")]))
        }
        guard Self.isJSON(request.contentType) else {
            return Outcome(response: ResponseBodies.failure(
                415, "unsupported_media_type", field: "Content-Type",
                "Content-Type must be application/json, not \(request.contentType ?? "absent")"))
        }
        guard !request.bodyExceedsLimit, request.body.count <= maximumBody else {
            return Outcome(response: ResponseBodies.failure(
                413, "payload_too_large", field: "body", "the body is larger than \(maximumBody) bytes"))
        }
        let json: JSONValue
        let task: TaskRequest
        do {
            json = try JSONValue.parse(request.body)
            try authenticate(json)
            task = try TaskRequest(validating: json)
            if let problem = evaluationURLs.refusal(of: task.evaluationURL) {
                throw RequestError(field: "evaluation_url", reason: problem)
            }
        } catch let refusal as Refusal {
            return Outcome(response: refusal.response)
        } catch let error as RequestError {
            return Outcome(response: ResponseBodies.invalid(error))
        } catch {
            return Outcome(response: ResponseBodies.failure(500, "internal", "\(error)"))
        }
        var stamped = task
        stamped.receivedAt = .now
        let id = stamped.id
        do {
            switch try spool.deliver(stamped, id: id) {
            case .accepted:
                waker?.wake()
                return Outcome(response: ResponseBodies.accepted(stamped, id: id, duplicate: false), id: id)
            case .duplicate:
                return Outcome(response: ResponseBodies.accepted(stamped, id: id, duplicate: true), id: id)
            }
        } catch {
            return Outcome(response: ResponseBodies.failure(
                503, "spool_unavailable", "the task could not be stored; try again later",
                headers: [("Retry-After", "30")]))
        }
    }

    /// `GET /status/ID` with `Authorization: Bearer <secret>`: the task's `TaskStatus`. The
    /// secret must be the task sender's (or, for an unknown ID, any configured one), so the
    /// endpoint reveals nothing to a caller without a secret.
    func status(_ request: IncomingRequest) -> Outcome {
        guard request.method == "GET" || request.method == "HEAD" else {
            return Outcome(response: ResponseBodies.failure(
                405, "method_not_allowed", "\(request.method) is not allowed on /status/: use GET", headers: [("Allow", "GET")]))
        }
        let challenge = [("WWW-Authenticate", "Bearer realm=\"llm-deploy\"")]
        guard let authorization = request.authorization, authorization.lowercased().hasPrefix("bearer ") else {
            return Outcome(response: ResponseBodies.failure(
                401, "unauthorized", field: "Authorization", "send Authorization: Bearer <your secret>", headers: challenge))
        }
        let secret = String(authorization.dropFirst("bearer ".count).drop { $0 == " " })
        let text = String(request.path.dropFirst("/status/".count))
        let id = TaskID(text)
        let sender = id.flatMap { TaskStatus.sender(of: $0, spool: spool) }
        let authorised = sender.map { secrets.accepts(secret, from: $0) } ?? secrets.acceptsAny(secret)
        guard authorised else {
            return Outcome(response: ResponseBodies.failure(
                401, "unauthorized", field: "Authorization", "the secret does not match", headers: challenge))
        }
        guard let id, let status = TaskStatus(id: id, spool: spool) else {
            return Outcome(response: ResponseBodies.failure(404, "not_found", field: "id", "no task \(text.prefix(64)) in the spool"))
        }
        return Outcome(response: ResponseBodies.status(status), id: id)
    }

    /// An answer other than 400 that ends handling early.
    private struct Refusal: Error {
        var response: OutgoingResponse
    }

    /// Checks `secret` against the sender's before any other field is examined, so an
    /// unauthenticated caller learns nothing about validation.
    private func authenticate(_ json: JSONValue) throws {
        guard case .object(let fields) = json else {
            throw RequestError(field: "body", reason: "must be a JSON object, not \(json.typeName)")
        }
        guard case .string(let email)? = fields["email"] else {
            throw RequestError(field: "email", reason: fields["email"] == nil ? "is missing" : "must be a string")
        }
        guard let secretValue = fields["secret"] else {
            throw RequestError(field: "secret", reason: "is missing")
        }
        guard case .string(let secret) = secretValue else {
            throw RequestError(field: "secret", reason: "must be a string, not \(secretValue.typeName)")
        }
        guard secrets.accepts(secret, from: email) else {
            throw Refusal(response: ResponseBodies.failure(403, "forbidden", field: "secret", "secret does not match"))
        }
    }

    /// `application/json`, optionally with parameters, or any `+json` type.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        if contentType == "application/json" { return true }  // what nearly every sender writes
        let mediaType = String(contentType.prefix { $0 != ";" }.filter { $0 != " " && $0 != "\t" }).lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}
