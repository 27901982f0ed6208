import Foundation

/// Why a check run could not start or go on. Each says what to do; none carries a page body.
public enum SiteCheckError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An executable is missing (`chromium`, `chromedriver`, `nginx`).
    case notInstalled(String)
    /// A child exited or never answered while starting.
    case didNotStart(String, String)
    /// chromedriver refused the New Session request.
    case sessionRefused(String)
    /// A path that cannot go into the generated nginx configuration.
    case unsafePath(String)
    /// The run directory could not be made.
    case workspace(String)

    public var description: String {
        switch self {
        case .notInstalled(let name):
            "\(name) not found: install it (scripts/setup installs chromium, chromium-driver and nginx-light) or set its LLM_DEPLOY_ variable"
        case .didNotStart(let name, let detail): "\(name) did not start: \(detail)"
        case .sessionRefused(let detail): "chromedriver refused a new Chromium session: \(detail)"
        case .unsafePath(let path): "\(path) has characters the loopback server's configuration cannot hold (quote, semicolon, brace, newline)"
        case .workspace(let detail): "cannot create the check run directory: \(detail)"
        }
    }

    /// The short form a skipped check records: "chromium not found".
    public var skipReason: String {
        switch self {
        case .notInstalled(let name): "\(name) not found"
        default: description
        }
    }
}
