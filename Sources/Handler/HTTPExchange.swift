/// The parts of an HTTP request the Handler looks at, as nginx passed them over FastCGI.
struct IncomingRequest: Sendable {
    var method: String
    /// The path without the query string.
    var path: String
    var contentType: String?
    /// `Authorization`, for the status endpoint.
    var authorization: String?
    var body: [UInt8]
    /// Set when the body was longer than the limit; `body` then holds only what was read.
    var bodyExceedsLimit: Bool = false
    /// Set when too many large bodies are being handled; the body was not read.
    var tooBusy = false
    /// Whether this request took one of the server's places for a large body.
    var holdsLargeBodySlot = false
    /// Whether the body was read to its end, so nothing the web server sent is left unread.
    var readToEnd = false
}

/// What the Handler answers: always a JSON body.
struct OutgoingResponse: Sendable, Equatable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8]

    static func == (lhs: OutgoingResponse, rhs: OutgoingResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0.0): \($0.1)" } == rhs.headers.map { "\($0.0): \($0.1)" }
    }

    /// The response as CGI output: a `Status` line, headers, a blank line, the body.
    func cgiBytes() -> [UInt8] {
        var head = "Status: \(status) \(Self.reason(status))\r\nContent-Type: application/json\r\n"
        head += "Content-Length: \(body.count)\r\nCache-Control: no-store\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
