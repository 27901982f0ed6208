import FoundationEssentials
import Spool

/// The JSON bodies the Handler sends, written with `JSONText`: the same bytes `JSONEncoder`
/// gave with sorted keys (the unit tests compare), at a fraction of the cost.
enum ResponseBodies {
    /// `{"duplicate":…,"id":…,"nonce":…,"round":…,"status":"accepted","task":…}`
    static func accepted(_ request: TaskRequest, id: TaskID, duplicate: Bool) -> OutgoingResponse {
        var json = JSONText(capacity: 160 + request.task.utf8.count + request.nonce.utf8.count)
        json.raw(#"{"duplicate":"#)
        json.bool(duplicate)
        json.raw(#","id":"#)
        json.string(id.rawValue)
        json.raw(#","nonce":"#)
        json.string(request.nonce)
        json.raw(#","round":"#)
        json.integer(request.round)
        json.raw(#","status":"accepted","task":"#)
        json.string(request.task)
        json.raw("}\n")
        return OutgoingResponse(status: 200, body: json.bytes)
    }

    /// `{"error":…,"field":…,"message":…}`: a stable machine-readable code (`invalid_request`,
    /// `forbidden`, …), the field at fault when one is, and a sentence for people.
    static func failure(
        _ status: Int, _ code: String, field: String? = nil, _ message: String, headers: [(String, String)] = []
    ) -> OutgoingResponse {
        var json = JSONText(capacity: 96 + message.utf8.count)
        json.raw(#"{"error":"#)
        json.string(code)
        if let field {
            json.raw(#","field":"#)
            json.string(field)
        }
        json.raw(#","message":"#)
        json.string(message)
        json.raw("}\n")
        return OutgoingResponse(status: status, headers: headers, body: json.bytes)
    }

    static func status(_ status: TaskStatus) -> OutgoingResponse {
        OutgoingResponse(status: 200, body: ((try? Array(TaskStatus.encoder.encode(status))) ?? []) + [0x0A])
    }

    static func invalid(_ error: RequestError) -> OutgoingResponse {
        failure(400, "invalid_request", field: error.field, error.description)
    }
}
