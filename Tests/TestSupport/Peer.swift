import Foundation

/// A loopback test peer from Tests/Peers (evaluator, OpenAI-compatible server, GitHub
/// emulator): a real HTTP server in its own process, announcing its port with `READY <port>`.
public final class Peer: @unchecked Sendable {
    public let process = Process()
    public let port: Int

    /// Starts `Tests/Peers/SCRIPT --port 0 ARGUMENTS…`.
    public convenience init(_ script: String, _ arguments: [String] = []) throws {
        try self.init(python: ["\(Paths.packageRoot)/Tests/Peers/\(script)", "--port", "0"] + arguments, label: script)
    }

    /// Starts `python3 ARGUMENTS…`, which must print `READY <port>` first.
    public init(python arguments: [String], label: String) throws {
        guard let python = Paths.which("python3") else { throw HTTPClient.Failure(description: "python3 is not installed") }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        let errorLog = Paths.temporaryDirectory("peer") + "/stderr.log"
        _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorLog))
        try process.run()
        // The first line is `READY <port>`.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY "), let port = Int(text.dropFirst(6).prefix { $0.isNumber }) else {
            kill(process.processIdentifier, SIGKILL)
            let errors = (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? ""
            throw HTTPClient.Failure(description: "\(label) did not start: \(text) \(errors.suffix(800))")
        }
        self.port = port
    }

    deinit { stop() }

    public var url: String { "http://127.0.0.1:\(port)" }

    /// SIGKILL: a peer keeps no state worth a clean exit, and children of the test runner may
    /// inherit a signal mask that blocks SIGTERM.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The requests the peer recorded (`GET /_peer/requests`).
    public func requests(path: String = "/_peer/requests") throws -> [[String: Any]] {
        let response = try HTTPClient.send(port: port, method: "GET", path: path)
        return (try JSONSerialization.jsonObject(with: response.body) as? [[String: Any]]) ?? []
    }

    /// Changes the peer's behaviour at runtime (`POST /_peer/config`).
    public func configure(_ settings: [String: Any], path: String = "/_peer/config") throws {
        let response = try HTTPClient.postJSON(port: port, path: path, settings)
        guard response.status == 200 else { throw HTTPClient.Failure(description: "configure: \(response.status) \(response.text)") }
    }
}
