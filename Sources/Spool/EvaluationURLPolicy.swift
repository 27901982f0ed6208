internal import FoundationEssentials

/// Which `evaluation_url`s the service accepts: only those the Finisher's HTTP client can
/// actually POST to, so a task is never accepted with a notification that must fail until the
/// horizon, and never one aimed at this machine or its network unless the operator says so.
///
/// - Never deliverable, refused everywhere (intake and spool files): IPv6 literals (the
///   client's URL loader refuses `http://[…]/` outright; a host name with AAAA records works),
///   IPv4 written other than as four decimal numbers (`2130706433`, `0x7f.1`, `0177.0.0.1`),
///   percent-encoded hosts, and cloud metadata addresses and names.
/// - Refused at intake unless `LLM_DEPLOY_NOTIFY_ALLOW` names the host: loopback, private,
///   link-local and other non-public IPv4 literals, and `localhost`. Host names are not
///   resolved here (DNS may answer differently by the time the notification goes out); the
///   notification client vets the addresses it connects to.
public struct EvaluationURLPolicy: Sendable, Equatable {
    /// `LLM_DEPLOY_NOTIFY_ALLOW`.
    public var allowlist: HostAllowlist

    public init(allowlist: HostAllowlist = .none) {
        self.allowlist = allowlist
    }

    /// Reads `LLM_DEPLOY_NOTIFY_ALLOW`.
    public init(environment: ServiceEnvironment) throws(ConfigurationError) {
        allowlist = try HostAllowlist(parsing: environment["LLM_DEPLOY_NOTIFY_ALLOW"], variable: "LLM_DEPLOY_NOTIFY_ALLOW")
    }

    /// Why this service will not notify `url`, or `nil`. `url` has passed the web-URL check.
    public func refusal(of url: String) -> String? {
        guard let target = Self.target(url) else { return "must be an absolute http(s) URL" }
        if let problem = Self.undeliverable(target) { return problem }
        let restriction: String?
        if let address = Self.dottedQuad(target.host) {
            restriction = AddressRestriction.reason(for: address).map { "\(target.host) is \($0)" }
        } else if target.host == "localhost" || target.host.hasSuffix(".localhost") {
            restriction = "\(target.host) is this machine"
        } else {
            restriction = nil
        }
        guard let restriction, !allowlist.permits(host: target.host, port: target.port) else { return nil }
        return "must be a public address: \(restriction) (an operator may allow it with LLM_DEPLOY_NOTIFY_ALLOW)"
    }

    /// Why the notification client could never deliver to `url`, or `nil`; whatever any
    /// allowlist says. `url` has passed the web-URL check.
    public static func undeliverable(_ url: String) -> String? {
        guard let target = target(url) else { return "must be an absolute http(s) URL" }
        return undeliverable(target)
    }

    private static func undeliverable(_ target: (host: String, port: Int)) -> String? {
        let host = target.host
        if host.contains(":") {
            return "must name a host or an IPv4 address: IPv6 literals ([\(host)]) cannot be notified; use a host name"
        }
        if host.contains("%") { return "must not percent-encode its host" }
        if AddressRestriction.metadataHosts.contains(host) { return "must not name a cloud metadata service (\(host))" }
        if endsInNumber(host) {
            guard let address = dottedQuad(host) else {
                return "must write an IPv4 address as four decimal numbers (such as 192.0.2.10), not \(host)"
            }
            if AddressRestriction.isMetadata(address) { return "must not name the cloud metadata address (\(host))" }
        }
        guard (1...65_535).contains(target.port) else { return "has a port out of range" }
        return nil
    }

    /// The normalized host (lower case, no brackets or trailing dot) and effective port.
    private static func target(_ url: String) -> (host: String, port: Int)? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            let host = parsed.host(percentEncoded: true), !host.isEmpty
        else { return nil }
        return (HostAllowlist.normalized(host), parsed.port ?? (scheme == "https" ? 443 : 80))
    }

    /// The WHATWG URL rule: a host whose last label is a number (decimal, or hex with `0x`) is
    /// an IPv4 address, in whichever of inet_aton's forms, to browsers and curl alike.
    private static func endsInNumber(_ host: String) -> Bool {
        let utf8 = host.utf8
        let last = utf8.lastIndex(of: UInt8(ascii: ".")).map { utf8[utf8.index(after: $0)...] } ?? utf8[...]
        guard !last.isEmpty else { return false }
        if last.allSatisfy(isDigit) { return true }
        guard last.count >= 2, last.first == UInt8(ascii: "0"), last.dropFirst().first.map({ $0 | 0x20 }) == UInt8(ascii: "x") else {
            return false
        }
        return last.dropFirst(2).allSatisfy { isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0 | 0x20) }
    }

    /// The address of a host written as four decimal numbers 0–255 without leading zeros.
    /// (Over UTF-8 bytes: splitting into `Character`s was most of a request's URL checking.)
    static func dottedQuad(_ host: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        var value = 0, digits = 0, leadingZero = false
        for byte in host.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, bytes.count < 3 else { return nil }
                bytes.append(UInt8(value))
                value = 0; digits = 0; leadingZero = false
                continue
            }
            guard isDigit(byte), !leadingZero, digits < 3 else { return nil }
            leadingZero = digits == 0 && byte == UInt8(ascii: "0")
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
            guard value <= 255 else { return nil }
        }
        guard digits > 0, bytes.count == 3 else { return nil }
        bytes.append(UInt8(value))
        return bytes
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
