import FoundationEssentials
import Spool

/// The JSON bodies the Handler sends.
enum ResponseBodies {
    struct Accepted: Encodable {
        var status = "accepted"
        var id: String
        var task: String
        var round: Int
        var nonce: String
        var duplicate: Bool
    }

    struct Failure: Encodable {
        /// A stable machine-readable code: `invalid_request`, `forbidden`, …
        var error: String
        /// The field at fault, when one is.
        var field: String?
        /// A sentence for people.
        var message: String
    }

    static func accepted(_ request: TaskRequest, duplicate: Bool) -> OutgoingResponse {
        let body = Accepted(
            id: request.id.rawValue, task: request.task, round: request.round, nonce: request.nonce, duplicate: duplicate)
        return OutgoingResponse(status: 200, body: encode(body))
    }

    static func failure(
        _ status: Int, _ code: String, field: String? = nil, _ message: String, headers: [(String, String)] = []
    ) -> OutgoingResponse {
        OutgoingResponse(status: status, headers: headers, body: encode(Failure(error: code, field: field, message: message)))
    }

    static func status(_ status: TaskStatus) -> OutgoingResponse {
        OutgoingResponse(status: 200, body: ((try? Array(TaskStatus.encoder.encode(status))) ?? []) + [0x0A])
    }

    static func invalid(_ error: RequestError) -> OutgoingResponse {
        failure(400, "invalid_request", field: error.field, error.description)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func encode(_ value: some Encodable) -> [UInt8] {
        // Encoding these plain structs cannot fail; a fixed body keeps the contract if it ever did.
        (try? Array(encoder.encode(value)) + [0x0A]) ?? Array(#"{"error":"internal"}"#.utf8)
    }
}
