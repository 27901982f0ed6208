/// An operator's list of hosts that may be reached although they are loopback or private
/// addresses: `LLM_DEPLOY_FETCH_ALLOW` (attachments and the generator's `fetch_url`) and
/// `LLM_DEPLOY_NOTIFY_ALLOW` (evaluation URLs) share this syntax (docs in README.md).
///
/// Comma-separated entries, each `host` (any port) or `host:port`; an IPv6 address is written in
/// brackets (`[::1]:8080`). Hosts are compared without case, exactly: `example.com` does not
/// allow `api.example.com`.
public struct HostAllowlist: Sendable, Equatable {
    /// One allowed host, on one port or on any.
    public struct Entry: Sendable, Equatable, CustomStringConvertible {
        /// Lower-cased, IPv6 without brackets.
        public var host: String
        /// `nil`: any port.
        public var port: Int?

        public init(host: String, port: Int? = nil) {
            self.host = host
            self.port = port
        }

        /// As the operator would write it.
        public var description: String {
            let shown = host.contains(":") ? "[\(host)]" : host
            return port.map { "\(shown):\($0)" } ?? shown
        }
    }

    /// The entries, in the order given.
    public var entries: [Entry] = []

    /// Nothing allowed beyond public addresses.
    public static let none = HostAllowlist()

    /// An allowlist of the given entries.
    public init(_ entries: [Entry] = []) {
        self.entries = entries
    }

    /// Parses a variable's value; empty or unset allows nothing.
    /// - Throws: `ConfigurationError` for `variable`, naming the entry that cannot be read.
    public init(parsing text: String?, variable: String) throws(ConfigurationError) {
        for raw in (text ?? "").split(separator: ",") {
            let item = String(raw.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
            if item.isEmpty { continue }
            guard let entry = Self.entry(item) else {
                throw ConfigurationError(
                    variable: variable,
                    reason: "entry \(item.debugDescription) is not host or host:port (e.g. data.internal, 127.0.0.1:8000, [::1]:8000)")
            }
            entries.append(entry)
        }
    }

    /// Whether `host` on `port` is allowed (`host` as in a URL, brackets optional).
    public func permits(host: String, port: Int) -> Bool {
        let normalized = Self.normalized(host)
        return entries.contains { $0.host == normalized && ($0.port == nil || $0.port == port) }
    }

    /// One entry, or `nil` when it is not `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
    private static func entry(_ item: String) -> Entry? {
        var host = item
        var port: Int?
        if item.hasPrefix("[") {
            guard let close = item.firstIndex(of: "]") else { return nil }
            host = String(item[item.index(after: item.startIndex)..<close])
            let rest = item[item.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { return nil }
                port = number
            }
        } else if item.filter({ $0 == ":" }).count == 1, let colon = item.firstIndex(of: ":") {
            host = String(item[..<colon])
            guard let number = Int(item[item.index(after: colon)...]) else { return nil }
            port = number
        }
        if let port, !(1...65_535).contains(port) { return nil }
        host = normalized(host)
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || "/?#@".contains($0) }) else { return nil }
        return Entry(host: host, port: port)
    }

    /// Lower-cased, without IPv6 brackets or a trailing dot.
    public static func normalized(_ host: String) -> String {
        var text = host.lowercased()
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
