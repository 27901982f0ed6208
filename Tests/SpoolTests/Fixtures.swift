import Foundation
@testable import Spool

/// A valid request body as JSON, with fields replaced or removed as a test needs.
enum Fixtures {
    nonisolated(unsafe) static let fields: [String: Any] = [
        "email": "student@example.com",
        "secret": "correct horse",
        "task": "captcha-solver-3f2a1",
        "round": 1,
        "nonce": "ab12-cd34",
        "brief": "Create a captcha solver that handles ?url=https://.../image.png.",
        "checks": ["Repo has MIT license", "document.querySelector('#result') !== null"],
        "evaluation_url": "https://example.com/notify",
        "attachments": [["name": "sample.png", "url": "data:image/png;base64,iVBORw0KGgo="]],
    ]

    static func body(_ changes: [String: Any?] = [:]) -> Data {
        var object = fields
        for (key, value) in changes {
            if let value { object[key] = value } else { object.removeValue(forKey: key) }
        }
        return try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func request(_ changes: [String: Any?] = [:]) throws -> TaskRequest {
        try TaskRequest(validating: JSONValue.parse(body(changes)))
    }

    /// A fresh, empty directory under the system's temporary directory.
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("llm-deploy-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
