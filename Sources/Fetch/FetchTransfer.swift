import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One GET, with no redirect followed, no cookie, cache or credential store, the body cut off at
/// a byte limit and the whole exchange at a time limit. `URLFetcher` vets every URL before it
/// reaches here and follows redirects itself, so each hop is checked.
///
/// A delegate-driven data task in its own ephemeral session: the redirect callback is consulted
/// (and refuses) on Linux as on Darwin, and the body can be counted as it arrives.
final class FetchTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// How one GET ended.
    enum Outcome: Sendable {
        /// A response (any status, a 3xx included), with up to the limit of its body.
        case response(HTTPURLResponse, body: Data, truncated: Bool)
        /// No complete response within the time limit.
        case timedOut
        /// The connection failed before a response.
        case failed(String)
    }

    private let lock = NSLock()
    private let limit: Int
    private let refusesDeclaredOversize: Bool
    private var body = Data()
    private var response: HTTPURLResponse?
    private var truncated = false
    private var expired = false
    private var continuation: CheckedContinuation<Outcome, Never>?

    private init(limit: Int, refusesDeclaredOversize: Bool) {
        self.limit = limit
        self.refusesDeclaredOversize = refusesDeclaredOversize
    }

    /// Sends `request` and waits for its outcome: at most `limit` body bytes, `timeout` seconds.
    /// With `refusesDeclaredOversize`, a response whose `Content-Length` is over the limit is cut
    /// off at once, with no body (its head is useless to a caller that wants all of it).
    static func run(_ request: URLRequest, limit: Int, timeout: TimeInterval, refusesDeclaredOversize: Bool = false) async -> Outcome {
        let transfer = FetchTransfer(limit: limit, refusesDeclaredOversize: refusesDeclaredOversize)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.urlCredentialStorage = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        let task = session.dataTask(with: request)
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(timeout))
            if !Task.isCancelled { transfer.expire(task) }
        }
        defer { watchdog.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.lock.withLock { transfer.continuation = continuation }
                task.resume()
            }
        } onCancel: {
            task.cancel()
        }
    }

    /// The time limit passed: stop the task; its completion reports `timedOut`.
    private func expire(_ task: URLSessionTask) {
        lock.withLock { expired = true }
        task.cancel()
    }

    /// Resumes the waiting caller once.
    private func finish(_ outcome: Outcome) {
        let waiting = lock.withLock {
            let waiting = continuation
            continuation = nil
            return waiting
        }
        waiting?.resume(returning: outcome)
    }

    /// Redirects are never followed here: the 3xx itself is the outcome.
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    /// Server trust is checked as usual; no credential is ever offered (there is no store).
    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        completionHandler(.performDefaultHandling, nil)
    }

    /// Keeps the response head; a body that declares more than the limit is not downloaded at all
    /// when the caller wants whole bodies only.
    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let oversized = refusesDeclaredOversize && response.expectedContentLength > Int64(limit)
        lock.withLock {
            self.response = response as? HTTPURLResponse
            if oversized { truncated = true }
        }
        completionHandler(oversized ? .cancel : .allow)
    }

    /// Keeps the body up to the limit; past it, stops the transfer and marks the body cut off.
    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = lock.withLock {
            guard !truncated else { return false }
            let room = limit - body.count
            if data.count > room {
                body.append(data.prefix(max(0, room)))
                truncated = true
                return true
            }
            body.append(data)
            return false
        }
        if over { dataTask.cancel() }
    }

    /// The transfer ended: a response (complete, or cut off at the limit), a timeout or an error.
    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (response, body, truncated, expired) = lock.withLock { (self.response, self.body, self.truncated, self.expired) }
        if let response, error == nil || truncated {
            finish(.response(response, body: body, truncated: truncated))
        } else if expired || (error as? URLError)?.code == .timedOut {
            finish(.timedOut)
        } else {
            finish(.failed(Self.reason(error)))
        }
    }

    /// A connection error in words.
    private static func reason(_ error: (any Error)?) -> String {
        guard let error else { return "the connection closed without a response" }
        guard let url = error as? URLError else { return "\(error)" }
        switch url.code {
        case .cannotConnectToHost: return "the connection was refused"
        case .cannotFindHost, .dnsLookupFailed: return "the host name does not resolve"
        case .networkConnectionLost: return "the connection was lost"
        case .notConnectedToInternet: return "there is no network connection"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
             .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            return "the TLS connection failed (certificate or protocol)"
        case .badServerResponse: return "the server's response was not valid HTTP"
        case .cancelled: return "the request was cancelled"
        default: return "network error \(url.code.rawValue)"
        }
    }
}
