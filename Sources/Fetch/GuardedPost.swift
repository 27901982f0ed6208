import Foundation
import Synchronization

/// One POST to a URL a sender gave us (the evaluator's `evaluation_url`), held to the same
/// rules as `fetch_url`: the `FetchGuard` vets the address before anything connects (loopback,
/// private, link-local and metadata addresses only when the operator's allowlist names them),
/// and the connection goes to exactly the addresses it checked. No redirect is followed (a 3xx
/// is the answer: following it would turn the POST into a GET, or an empty POST elsewhere). At
/// most `maximumBytes` of the answer is read, then the connection is dropped, all within
/// `timeout`.
///
/// The transfer is curl's command-line tool reading from a pipe we stop reading, not URLSession:
/// on Linux URLSession reads ahead of its delegate without bound (a 600 MiB answer is held in
/// memory whatever the delegate does), while curl writes each piece to the pipe as it arrives
/// and stops when the pipe closes. curl runs with `-q` (no `.curlrc`) and a bare environment
/// (no proxy variables), and never sees a credential of ours.
public struct GuardedPost: Sendable {
    public var policy: FetchGuard
    public var userAgent: String
    /// The most answer bytes read; a notification's answer matters only by its status.
    public var maximumBytes = 16 << 10
    /// The curl executable: `LLM_DEPLOY_CURL`, or /usr/bin/curl.
    public var curl = ProcessInfo.processInfo.environment["LLM_DEPLOY_CURL"] ?? "/usr/bin/curl"

    public init(policy: FetchGuard, userAgent: String = "llm-deploy-finisher/1.0 (+https://github.com/llm-deploy)") {
        self.policy = policy
        self.userAgent = userAgent
    }

    /// What came back.
    public struct Answer: Sendable {
        public var status: Int
        /// Lower-cased names.
        public var headers: [String: String]
        /// At most `maximumBytes`.
        public var body: Data
        public var truncated: Bool
    }

    /// POSTs `body` to `text`.
    /// - Throws: `FetchError`: a refusal (`isRefusal`) before any connection, or no answer.
    public func send(_ text: String, body: Data, headers: [String: String] = [:], timeout: TimeInterval) async throws(FetchError) -> Answer {
        guard text.count <= 4_096, let url = URL(string: text), url.scheme != nil else {
            throw .unsupportedURL("\(String(text.prefix(100)).debugDescription) is not an absolute URL")
        }
        let started = Date()
        let vetted = try await policy.vetAddresses(url)
        let remaining = max(1, timeout - Date().timeIntervalSince(started))
        var arguments = CurlRun.commonArguments(timeout: remaining, userAgent: userAgent) + [
            "--request", "POST", "--data-binary", "@-", "--header", "Expect:",
        ]
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { arguments += ["--header", "\(name): \(value)"] }
        arguments += CurlRun.pinning(vetted) + ["--url", url.absoluteString]
        let outcome = await CurlRun.run(curl, arguments, input: body, limit: maximumBytes, timeout: remaining + 2)
        guard let head = outcome.head else { throw outcome.failure(url: url, host: vetted.host, timeout: timeout) }
        return Answer(status: head.status, headers: head.headers, body: outcome.body, truncated: outcome.truncated)
    }
}

/// One curl run: stdout read until the final response head and `limit` body bytes, then closed.
enum CurlRun {
    struct Head {
        var status: Int
        var headers: [String: String]
    }

    struct Outcome {
        var head: Head?
        var body = Data()
        var truncated = false
        var exitStatus: Int32 = 0
        var errors = ""
    }

    /// What every exchange passes: no `.curlrc`, http(s) only, no redirect followed (each hop is
    /// vetted by the caller), the time limits, our User-Agent, the head on stdout before the body.
    static func commonArguments(timeout: TimeInterval, userAgent: String) -> [String] {
        [
            "-q", "--silent", "--show-error", "--proto", "=http,https", "--max-redirs", "0",
            "--max-time", String(format: "%.1f", timeout), "--connect-timeout", String(format: "%.1f", timeout),
            "--dump-header", "-", "--output", "-", "--header", "User-Agent: \(userAgent)",
        ]
    }

    /// Connects to exactly the addresses the guard checked (`--resolve`), so a DNS answer that
    /// changes between the check and the connection is never used. A host that is itself an
    /// address, or one the operator allowlisted (no addresses checked), needs no pinning.
    static func pinning(_ vetted: (host: String, port: Int, addresses: [String])) -> [String] {
        guard !vetted.addresses.isEmpty, vetted.addresses != [vetted.host], !vetted.host.contains(":") else { return [] }
        let pinned = vetted.addresses.map { $0.contains(":") ? "[\($0)]" : $0 }.joined(separator: ",")
        return ["--resolve", "\(vetted.host):\(vetted.port):\(pinned)"]
    }

    /// With `refusingDeclaredOversize`, an answer whose `Content-Length` is over `limit` is cut off
    /// as soon as its head is read, with no body (`truncated`): for callers that want whole bodies.
    static func run(_ executable: String, _ arguments: [String], input: Data, limit: Int, timeout: TimeInterval,
                    refusingDeclaredOversize: Bool = false) async -> Outcome {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: runNow(
                    executable, arguments, input: input, limit: limit, timeout: timeout, refusingDeclaredOversize: refusingDeclaredOversize))
            }
        }
    }

    private static func runNow(_ executable: String, _ arguments: [String], input: Data, limit: Int, timeout: TimeInterval,
                               refusingDeclaredOversize: Bool) -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LC_ALL": "C"]
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        var outcome = Outcome()
        do {
            try process.run()
        } catch {
            outcome.exitStatus = 127
            outcome.errors = "cannot run \(executable): \(error)"
            return outcome
        }
        DispatchQueue.global().async {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        let errorText = Mutex("")
        let errorsRead = DispatchGroup()
        errorsRead.enter()
        DispatchQueue.global().async {
            let data = stderr.fileHandleForReading.readDataToEndOfFile()
            errorText.withLock { $0 = String(decoding: data.prefix(4096), as: UTF8.self) }
            errorsRead.leave()
        }
        // The whole exchange is bounded, even against a server that trickles.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        var buffer = Data()
        var bodyStart: Int?
        let reader = stdout.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            if bodyStart == nil, let (head, end) = finalHead(in: buffer) {
                outcome.head = head
                bodyStart = end
                if refusingDeclaredOversize, let declared = head.headers["content-length"].flatMap(Int.init), declared > limit {
                    outcome.truncated = true
                    buffer.removeSubrange(end...)
                    break
                }
            }
            if let start = bodyStart, buffer.count - start > limit {
                outcome.truncated = true
                break
            }
            // Headers alone past 64 KiB: not an answer worth reading further.
            if bodyStart == nil && buffer.count > 64 << 10 { break }
        }
        try? reader.close()
        if process.isRunning && (outcome.truncated || bodyStart == nil) { process.terminate() }
        process.waitUntilExit()
        watchdog.cancel()
        errorsRead.wait()
        if let start = bodyStart { outcome.body = Data(buffer[start..<min(buffer.count, start + limit)]) }
        outcome.exitStatus = process.terminationReason == .exit ? process.terminationStatus : 28
        outcome.errors = errorText.withLock { $0 }
        return outcome
    }

    /// The last complete response head in `data` (interim 1xx heads skipped) and where its body
    /// starts, or `nil` while it is incomplete.
    static func finalHead(in data: Data) -> (Head, Int)? {
        var offset = data.startIndex
        let separator = Data("\r\n\r\n".utf8)
        while let end = data.range(of: separator, in: offset..<data.endIndex) {
            let lines = String(decoding: data[offset..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else { return nil }
            if (100..<200).contains(status) {
                offset = end.upperBound
                continue
            }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return (Head(status: status, headers: headers), end.upperBound - data.startIndex)
        }
        return nil
    }
}

extension CurlRun.Outcome {
    /// Why no answer came, as the model or the operator reads it (curl's exit status).
    func failure(url: URL, host: String, timeout: TimeInterval) -> FetchError {
        let shown = FetchGuard.shown(url)
        switch exitStatus {
        case 28: return .timedOut(url: shown, seconds: Int(timeout.rounded()))
        case 6: return .unresolvable(host: host, reason: "curl: \(errors.suffix(200))")
        case 7: return .network(url: shown, reason: "the connection was refused")
        case 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91:
            return .network(url: shown, reason: "the TLS connection failed (certificate or protocol)")
        default:
            let said = errors.trimmingCharacters(in: .whitespacesAndNewlines)
            return .network(url: shown, reason: said.isEmpty ? "the connection closed without a response" : String(said.suffix(300)))
        }
    }
}
