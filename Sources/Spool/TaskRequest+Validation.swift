internal import FoundationEssentials

extension TaskRequest {
    /// Limits that keep one request from exhausting the spool or the Finisher.
    public enum Limits {
        public static let shortText = 256
        public static let email = 254
        public static let url = 4096
        public static let checks = 200
        public static let attachments = 100
        public static let round = 1...10_000
    }

    /// Validates every field of a request body (docs/protocol.md) except `secret`, which the
    /// Handler checks and drops. Unknown fields are ignored.
    public init(validating json: JSONValue) throws(RequestError) {
        guard case .object(let fields) = json else {
            throw RequestError(field: "body", reason: "must be a JSON object, not \(json.typeName)")
        }
        let reader = FieldReader(fields: fields)
        email = try reader.shortText("email", limit: Limits.email)
        guard Self.looksLikeEmail(email) else {
            throw RequestError(field: "email", reason: "must be an e-mail address")
        }
        task = try reader.shortText("task", limit: Limits.shortText)
        round = try reader.round()
        nonce = try reader.shortText("nonce", limit: Limits.shortText)
        brief = try reader.string("brief")
        guard !brief.allSatisfy(\.isWhitespace) else {
            throw RequestError(field: "brief", reason: "must not be empty")
        }
        checks = try reader.checks()
        evaluationURL = try reader.shortText("evaluation_url", limit: Limits.url)
        if let problem = Self.problem(withWebURL: evaluationURL) ?? EvaluationURLPolicy.undeliverable(evaluationURL) {
            throw RequestError(field: "evaluation_url", reason: problem)
        }
        attachments = try reader.attachments()
        receivedAt = nil
    }

    /// Checks an absolute http(s) URL with a host. - Returns: the reason it is not, or `nil`.
    public static func problem(withWebURL text: String) -> String? {
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            return "must not contain spaces or control characters"
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
            return "must be an absolute URL"
        }
        guard scheme == "http" || scheme == "https" else { return "must be an http or https URL" }
        guard let host = url.host(), !host.isEmpty else { return "must name a host" }
        return nil
    }

    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
    }
}

/// Reads typed fields out of a JSON object, throwing errors that name the field.
private struct FieldReader {
    let fields: [String: JSONValue]

    func value(_ name: String) throws(RequestError) -> JSONValue {
        guard let value = fields[name], value != .null else {
            throw RequestError(field: name, reason: "is missing")
        }
        return value
    }

    func string(_ name: String) throws(RequestError) -> String {
        let value = try value(name)
        guard case .string(let text) = value else {
            throw RequestError(field: name, reason: "must be a string, not \(value.typeName)")
        }
        return text
    }

    /// A non-empty single-line string of at most `limit` bytes.
    func shortText(_ name: String, limit: Int) throws(RequestError) -> String {
        let text = try string(name)
        if text.isEmpty { throw RequestError(field: name, reason: "must not be empty") }
        if text.utf8.count > limit { throw RequestError(field: name, reason: "must be at most \(limit) bytes") }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw RequestError(field: name, reason: "must not contain control characters")
        }
        return text
    }

    func round() throws(RequestError) -> Int {
        let value = try value("round")
        let limits = TaskRequest.Limits.round
        switch value {
        case .integer(let number) where limits.contains(Int(clamping: number)):
            return Int(number)
        case .integer, .number:
            throw RequestError(field: "round", reason: "must be an integer from \(limits.lowerBound) to \(limits.upperBound)")
        default:
            throw RequestError(field: "round", reason: "must be an integer, not \(value.typeName)")
        }
    }

    func checks() throws(RequestError) -> [String] {
        let value = try value("checks")
        guard case .array(let items) = value else {
            throw RequestError(field: "checks", reason: "must be an array of strings, not \(value.typeName)")
        }
        guard items.count <= TaskRequest.Limits.checks else {
            throw RequestError(field: "checks", reason: "must have at most \(TaskRequest.Limits.checks) entries")
        }
        var checks: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw RequestError(field: "checks[\(index)]", reason: "must be a string, not \(item.typeName)")
            }
            checks.append(text)
        }
        return checks
    }

    func attachments() throws(RequestError) -> [Attachment] {
        let value = try value("attachments")
        guard case .array(let items) = value else {
            throw RequestError(field: "attachments", reason: "must be an array, not \(value.typeName)")
        }
        guard items.count <= TaskRequest.Limits.attachments else {
            throw RequestError(field: "attachments", reason: "must have at most \(TaskRequest.Limits.attachments) entries")
        }
        var attachments: [Attachment] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            var field: String { "attachments[\(index)]" }  // only for an error
            guard case .object(let object) = item else {
                throw RequestError(field: field, reason: "must be an object with name and url, not \(item.typeName)")
            }
            let entry = FieldReader(fields: object)
            let name: String
            let url: String
            do {
                name = try entry.string("name")
                url = try entry.string("url")
            } catch {
                throw RequestError(field: "\(field).\(error.field)", reason: error.reason)
            }
            if let problem = Attachment.problem(withName: name) {
                throw RequestError(field: "\(field).name", reason: problem)
            }
            let folded = name.lowercased()
            if let first = seen[folded] {
                throw RequestError(field: "\(field).name", reason: "repeats the name of attachments[\(first)]")
            }
            seen[folded] = index
            try Self.checkAttachmentURL(url, field: "\(field).url")
            attachments.append(Attachment(name: name, url: url))
        }
        return attachments
    }

    /// A `data:` URI must decode; anything else must be an http(s) URL the Finisher can fetch.
    static func checkAttachmentURL(_ url: String, field: String) throws(RequestError) {
        if url.utf8.count >= 5, url.prefix(5).lowercased() == "data:" {
            do {
                _ = try DataURI(parsing: url).bytes()
            } catch {
                throw RequestError(field: field, reason: error.reason)
            }
            return
        }
        guard url.utf8.count <= TaskRequest.Limits.url else {
            throw RequestError(field: field, reason: "must be a data: URI or an http(s) URL of at most \(TaskRequest.Limits.url) bytes")
        }
        if TaskRequest.problem(withWebURL: url) != nil {
            throw RequestError(field: field, reason: "must be a data: URI or an absolute http(s) URL")
        }
    }
}
