import Foundation

/// `fetch_url`'s HTTP side (and http(s) attachments'): a GET with a descriptive User-Agent and
/// none of our credentials, size and time limits, and redirects followed by hand (at most
/// `maximumRedirects`), every URL on the way vetted by the `FetchGuard` before anything connects
/// to it, and each connection made to exactly the addresses it vetted.
///
/// The transfer is curl's command-line tool, as for `GuardedPost` and for the same reasons:
/// URLSession resolves a name again when it connects (a window in which a DNS answer can change
/// to a private address) and on Linux reads ahead of its delegate without bound; curl is pinned
/// with `--resolve` and stops when we stop reading.
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
    /// The curl executable: `LLM_DEPLOY_CURL`, or /usr/bin/curl.
    public var curl = ProcessInfo.processInfo.environment["LLM_DEPLOY_CURL"] ?? "/usr/bin/curl"

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
            let vetted = try await policy.vetAddresses(url)
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0.1 else { throw .timedOut(url: FetchGuard.shown(url), seconds: Int(timeout.rounded())) }
            let arguments = CurlRun.commonArguments(timeout: remaining, userAgent: userAgent) + [
                "--compressed", "--header", "Accept: application/json, text/*;q=0.9, */*;q=0.5",
            ] + CurlRun.pinning(vetted) + ["--url", url.absoluteString]
            let outcome = await CurlRun.run(
                curl, arguments, input: Data(), limit: maximumBytes, timeout: remaining + 2, refusingDeclaredOversize: wholeBodiesOnly)
            guard let head = outcome.head else { throw outcome.failure(url: url, host: vetted.host, timeout: timeout) }
            if [301, 302, 303, 307, 308].contains(head.status), let location = head.headers["location"] {
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
                url: FetchGuard.shown(url), status: head.status, contentType: head.headers["content-type"], body: outcome.body,
                truncated: outcome.truncated, declaredLength: head.headers["content-length"].flatMap(Int64.init), redirects: redirects)
        }
    }
}
