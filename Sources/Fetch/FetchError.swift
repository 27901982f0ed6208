import Foundation

/// Why `fetch_url` returned no page. The description goes back to the model as the tool's
/// result (a refusal is an answer, not an exception), so it says what the model can do instead.
public enum FetchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not one we fetch: not http(s), carries credentials, has no host.
    case unsupportedURL(String)
    /// The host is, or resolves to, an address we never reach (loopback, private, link-local,
    /// metadata, unspecified), and the operator's allowlist does not name it.
    case refusedAddress(url: String, reason: String)
    /// The host name does not resolve.
    case unresolvable(host: String, reason: String)
    /// More redirects than the limit.
    case tooManyRedirects(url: String, limit: Int)
    /// No complete answer in time.
    case timedOut(url: String, seconds: Int)
    /// The connection failed.
    case network(url: String, reason: String)

    /// What went wrong and what to do instead, for the model.
    public var description: String {
        switch self {
        case .unsupportedURL(let reason):
            "fetch_url refused the URL: \(reason). Give a public http:// or https:// URL without a user name or password."
        case .refusedAddress(let url, let reason):
            "fetch_url refused \(url): \(reason). Only public internet hosts can be fetched; loopback, private, link-local "
                + "and cloud metadata addresses are never reached. Use a public API, or data from the brief and its attachments."
        case .unresolvable(let host, let reason):
            "fetch_url could not resolve the host \(host) (\(reason)). Check the URL's spelling."
        case .tooManyRedirects(let url, let limit):
            "fetch_url stopped at \(url): more than \(limit) redirects. Use the final URL directly."
        case .timedOut(let url, let seconds):
            "fetch_url gave up on \(url): no complete answer within \(seconds) s. Try a smaller resource or another source."
        case .network(let url, let reason):
            "fetch_url could not fetch \(url): \(reason)."
        }
    }

    /// Whether this is a policy refusal (journaled as `refused`) rather than a failure.
    public var isRefusal: Bool {
        switch self {
        case .unsupportedURL, .refusedAddress: true
        case .unresolvable, .tooManyRedirects, .timedOut, .network: false
        }
    }
}
