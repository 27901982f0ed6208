import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `fetch_url`'s HTTP side: a GET with a descriptive User-Agent and none of our credentials,
/// size and time limits, and redirects followed by hand (at most `maximumRedirects`), every
/// URL on the way vetted by the `FetchGuard` before anything connects to it.
public struct URLFetcher: Sendable {
    /// Which hosts may be reached.
    public var policy: FetchGuard
    /// Says who fetches and why, as public APIs ask (no browser disguise).
    public var userAgent = URLFetcher.userAgent(contact: nil)
    /// The longest one fetch may take, redirects included.
    public var timeout: TimeInterval = 20
    /// The most body bytes read; the rest is not downloaded.
    public var maximumBytes = 2 << 20
    /// The most redirects followed.
    public var maximumRedirects = 5
    /// Whether a body that declares more than `maximumBytes` is refused outright (nothing read)
    /// rather than read up to the limit: for callers that store whole bodies only.
    public var wholeBodiesOnly = false

    public init(policy: FetchGuard) {
        self.policy = policy
    }

    /// The User-Agent, with the operator's contact (an e-mail address or URL) when given: APIs
    /// such as SEC EDGAR refuse automated clients that do not say how to reach their operator.
    public static func userAgent(contact: String?) -> String {
        let reach = contact.map { "; contact: \($0)" } ?? "; +https://github.com/llm-deploy"
        return "llm-deploy-finisher/1.0 (fetch_url tool of an LLM static-site generator\(reach))"
    }

    /// What came back.
    public struct Page: Sendable {
        /// The URL that answered (after redirects), as shown to the model (query elided).
        public var url: String
        /// The HTTP status.
        public var status: Int
        /// `Content-Type`, when given.
        public var contentType: String?
        /// The body, at most `maximumBytes`.
        public var body: Data
        /// Whether the body went on past `maximumBytes` (or declared it would).
        public var truncated: Bool
        /// The `Content-Length` the server declared, when it declared one.
        public var declaredLength: Int64? = nil
        /// The redirects followed, in order (shown URLs).
        public var redirects: [String]
    }

    /// GETs `text`, following redirects to vetted URLs, within `min(timeout, limit)` seconds.
    /// - Throws: `FetchError` (refusals included) for the model to read.
    public func fetch(_ text: String, within limit: TimeInterval? = nil) async throws(FetchError) -> Page {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count <= 4_096, var url = URL(string: trimmed), url.scheme != nil else {
            throw .unsupportedURL("\(String(trimmed.prefix(100)).debugDescription) is not an absolute URL")
        }
        let deadline = Date().addingTimeInterval(min(timeout, limit ?? timeout))
        var redirects: [String] = []
        while true {
            try await policy.vet(url)
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0.1 else { throw .timedOut(url: FetchGuard.shown(url), seconds: Int(timeout.rounded())) }
            var request = URLRequest(url: url, timeoutInterval: remaining)
            request.httpMethod = "GET"
            request.httpShouldHandleCookies = false
            request.setValue(userAgent, forHTTPHeaderField: "User-Agent")
            request.setValue("application/json, text/*;q=0.9, */*;q=0.5", forHTTPHeaderField: "Accept")
            switch await FetchTransfer.run(request, limit: maximumBytes, timeout: remaining, refusesDeclaredOversize: wholeBodiesOnly) {
            case .timedOut:
                throw .timedOut(url: FetchGuard.shown(url), seconds: Int(timeout.rounded()))
            case .failed(let reason):
                throw .network(url: FetchGuard.shown(url), reason: reason)
            case .response(let response, let body, let truncated):
                let location = response.value(forHTTPHeaderField: "Location")
                if [301, 302, 303, 307, 308].contains(response.statusCode), let location {
                    guard redirects.count < maximumRedirects else {
                        throw .tooManyRedirects(url: FetchGuard.shown(url), limit: maximumRedirects)
                    }
                    guard let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                        throw .network(url: FetchGuard.shown(url), reason: "it redirected to an unreadable Location \(String(location.prefix(100)).debugDescription)")
                    }
                    redirects.append(FetchGuard.shown(next))
                    url = next
                    continue
                }
                return Page(
                    url: FetchGuard.shown(url), status: response.statusCode,
                    contentType: response.value(forHTTPHeaderField: "Content-Type"), body: body, truncated: truncated,
                    declaredLength: response.expectedContentLength >= 0 ? response.expectedContentLength : nil, redirects: redirects)
            }
        }
    }
}
