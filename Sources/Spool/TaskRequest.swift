public import FoundationEssentials

/// A validated task: what the Handler spools and the Finisher works on.
///
/// It is the request of docs/protocol.md without its `secret`, plus the time it was received.
/// Operators may drop files of the same shape into `incoming/` by hand.
public struct TaskRequest: Sendable, Equatable, Codable {
    public var email: String
    public var task: String
    public var round: Int
    public var nonce: String
    public var brief: String
    public var checks: [String]
    public var evaluationURL: String
    public var attachments: [Attachment]
    /// When the Handler accepted the request; the deadline counts from here. A manual
    /// drop-in may omit it (the Finisher then uses the file's modification time).
    public var receivedAt: Date?

    public init(
        email: String, task: String, round: Int, nonce: String, brief: String,
        checks: [String], evaluationURL: String, attachments: [Attachment], receivedAt: Date? = nil
    ) {
        self.email = email
        self.task = task
        self.round = round
        self.nonce = nonce
        self.brief = brief
        self.checks = checks
        self.evaluationURL = evaluationURL
        self.attachments = attachments
        self.receivedAt = receivedAt
    }

    enum CodingKeys: String, CodingKey {
        case email, task, round, nonce, brief, checks, attachments
        case evaluationURL = "evaluation_url"
        case receivedAt = "received_at"
    }

    /// The spool identity of this task: the same for a resent request.
    public var id: TaskID { TaskID(email: email, task: task, round: round, nonce: nonce) }
}

extension TaskRequest {
    /// The spool file's encoding: stable key order, ISO 8601 dates. The same bytes as
    /// `JSONEncoder` with sorted keys and `.iso8601` dates (the unit tests compare), written by
    /// hand because encoding was a tenth of the Handler's time per request.
    public func encoded() throws -> Data {
        Data(encodedBytes())
    }

    /// `encoded()` as an array.
    public func encodedBytes() -> [UInt8] {
        var json = JSONText(capacity: 256 + brief.utf8.count + attachments.reduce(0) { $0 + $1.url.utf8.count + 32 })
        json.raw(#"{"attachments":["#)
        for (index, attachment) in attachments.enumerated() {
            json.raw(index == 0 ? #"{"name":"# : #",{"name":"#)
            json.string(attachment.name)
            json.raw(#","url":"#)
            json.string(attachment.url)
            json.raw("}")
        }
        json.raw(#"],"brief":"#)
        json.string(brief)
        json.raw(#","checks":["#)
        for (index, check) in checks.enumerated() {
            if index > 0 { json.raw(",") }
            json.string(check)
        }
        json.raw(#"],"email":"#)
        json.string(email)
        json.raw(#","evaluation_url":"#)
        json.string(evaluationURL)
        json.raw(#","nonce":"#)
        json.string(nonce)
        if let receivedAt {
            json.raw(#","received_at":"#)
            json.iso8601(secondsSince1970: receivedAt.timeIntervalSince1970)
        }
        json.raw(#","round":"#)
        json.integer(round)
        json.raw(#","task":"#)
        json.string(task)
        json.raw("}")
        return json.bytes
    }

    /// Decodes and validates a spool file or a manual drop-in.
    public static func decodeSpoolFile(_ data: Data) throws(RequestError) -> TaskRequest {
        let json = try JSONValue.parse(data)
        var request = try TaskRequest(validating: json)
        if case .object(let fields) = json, let stamp = fields["received_at"], stamp != .null {
            guard case .string(let text) = stamp, let date = try? Date(text, strategy: .iso8601) else {
                throw RequestError(field: "received_at", reason: "must be an ISO 8601 date-time string")
            }
            request.receivedAt = date
        }
        return request
    }

    /// Who sent a task, which task and which round: read from a spool file without validating
    /// (or decoding the attachments of) the rest, for scans over the whole spool.
    public struct Header: Sendable, Equatable, Decodable {
        public var email: String
        public var task: String
        public var round: Int
    }

    /// The header of a spool file, or `nil` when it has none.
    public static func header(of data: Data) -> Header? {
        try? JSONDecoder().decode(Header.self, from: data)
    }
}
