import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// HTTP for the Finisher's peers (evaluator, Pages, attachment hosts), with a timeout and a
/// response-size limit on every call. No cookies, no cache, no credentials of ours.
public struct WebClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    public let userAgent: String

    public init(userAgent: String = "llm-deploy-finisher/1.0 (+https://github.com/llm-deploy)") {
        self.userAgent = userAgent
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration)
    }()

    public func send(
        _ method: String, _ url: String, headers: [String: String] = [:], body: Data? = nil,
        timeout: TimeInterval, maximumBytes: Int = 8 << 20
    ) async throws(Failure) -> Response {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw Failure(description: "not an http(s) URL")
        }
        var prepared = URLRequest(url: target, timeoutInterval: timeout)
        prepared.httpMethod = method
        prepared.httpBody = body
        prepared.setValue(userAgent, forHTTPHeaderField: "User-Agent")
        for (name, value) in headers { prepared.setValue(value, forHTTPHeaderField: name) }
        let request = prepared
        do {
            let (data, response) = try await withThrowingTaskGroup(of: (Data, URLResponse).self) { group in
                group.addTask { try await Self.session.data(for: request) }
                // URLSession's timeout is per read; this bounds the whole exchange.
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout + 1))
                    throw Failure(description: "no complete answer within \(Int(timeout)) s")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            guard let http = response as? HTTPURLResponse else { throw Failure(description: "not an HTTP response") }
            guard data.count <= maximumBytes else { throw Failure(description: "response larger than \(maximumBytes) bytes") }
            var fields: [String: String] = [:]
            for (name, value) in http.allHeaderFields {
                if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
            }
            return Response(status: http.statusCode, headers: fields, body: data)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: (error as? URLError).map { "\($0.code.rawValue == -1001 ? "timed out" : $0.localizedDescription)" } ?? "\(error)")
        }
    }
}
