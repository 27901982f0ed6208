import Spool

/// The operator's `LLM_DEPLOY_FETCH_ALLOW` (README, Configuration): hosts the generator's `fetch_url`
/// may reach even though they resolve to loopback, private or link-local addresses, e.g. an
/// internal data service, or a test's fixture server on 127.0.0.1. The syntax is
/// `HostAllowlist`'s, shared with `LLM_DEPLOY_NOTIFY_ALLOW`.
public typealias FetchAllowlist = HostAllowlist

extension HostAllowlist {
    /// Parses `LLM_DEPLOY_FETCH_ALLOW`; empty or unset allows nothing.
    /// - Throws: `ConfigurationError` for `LLM_DEPLOY_FETCH_ALLOW`, naming the entry that cannot be read.
    public init(parsing text: String?) throws(ConfigurationError) {
        try self.init(parsing: text, variable: "LLM_DEPLOY_FETCH_ALLOW")
    }
}
