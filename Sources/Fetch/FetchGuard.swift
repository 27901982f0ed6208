import Foundation
import Spool
#if canImport(Glibc)
import Glibc
#endif

/// Decides whether `fetch_url` may connect to a URL, before any connection is made (docs/
/// architecture.md, Security model): a model reads untrusted briefs and pages, so a URL it asks for may aim at this machine,
/// its network or the cloud's metadata service (SSRF).
///
/// http(s) only, no credentials in the URL; the host is resolved with `getaddrinfo` and every
/// address it resolves to is checked: loopback, private (RFC 1918, fc00::/7), link-local,
/// shared (100.64/10), multicast, reserved, unspecified and metadata addresses are refused,
/// including IPv4 addresses inside IPv6 (mapped, NAT64, 6to4). Metadata host names are refused
/// by name as well. The operator's `FetchAllowlist` lifts all of this for the hosts it names.
///
/// The fetcher calls this again for every redirect target, and connects to exactly the addresses
/// `vetAddresses` returns (curl `--resolve`), so a DNS server that answers differently a moment
/// later (rebinding) cannot steer the connection.
public struct FetchGuard: Sendable {
    /// Hosts the operator allows whatever they resolve to.
    public var allowlist: FetchAllowlist

    public init(allowlist: FetchAllowlist) {
        self.allowlist = allowlist
    }

    /// Names of cloud metadata services, refused whatever they resolve to.
    public static var metadataHosts: Set<String> { AddressRestriction.metadataHosts }

    /// Checks `url` and returns its host and port; throws the refusal the model is told about.
    @discardableResult
    public func vet(_ url: URL) async throws(FetchError) -> (host: String, port: Int) {
        let vetted = try await vetAddresses(url)
        return (vetted.host, vetted.port)
    }

    /// `vet`, also returning the addresses that were checked (empty for an allowlisted host), so
    /// a client can connect to exactly those and leave no window for a DNS answer that changes.
    public func vetAddresses(_ url: URL) async throws(FetchError) -> (host: String, port: Int, addresses: [String]) {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw .unsupportedURL("only http and https URLs can be fetched, not \(url.scheme.map { "\($0):" } ?? "a relative URL")")
        }
        guard url.user == nil, url.password == nil else { throw .unsupportedURL("the URL carries a user name or password") }
        guard let rawHost = url.host, !rawHost.isEmpty else { throw .unsupportedURL("the URL has no host") }
        let host = FetchAllowlist.normalized(rawHost)
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { throw .unsupportedURL("port \(port) is out of range") }
        if allowlist.permits(host: host, port: port) { return (host, port, []) }
        let shown = Self.shown(url)
        if Self.metadataHosts.contains(host) {
            throw .refusedAddress(url: shown, reason: "\(host) is a cloud metadata service")
        }
        let addresses = try await Self.resolve(host)
        for address in addresses {
            if let restriction = Self.restriction(of: address.bytes) {
                let reason = address.description == host
                    ? "\(host) is \(restriction)"
                    : "\(host) resolves to \(address), \(restriction)"
                throw .refusedAddress(url: shown, reason: reason)
            }
        }
        return (host, port, addresses.map(\.description))
    }

    /// The URL as quoted back: without its query (which may carry someone's key) and at most 200 characters.
    public static func shown(_ url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        let hadQuery = components?.query != nil
        components?.query = nil
        components?.fragment = nil
        let text = (components?.string ?? url.absoluteString) + (hadQuery ? "?…" : "")
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    /// An address `getaddrinfo` returned: 4 bytes (IPv4) or 16 (IPv6).
    struct ResolvedAddress: Sendable, Equatable, CustomStringConvertible {
        /// Network byte order.
        var bytes: [UInt8]

        /// Dotted or colon notation.
        var description: String {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let family = bytes.count == 4 ? AF_INET : AF_INET6
            let text = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
            return text == nil
                ? bytes.map(String.init).joined(separator: ".")
                : String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Every address `host` resolves to (a literal address resolves to itself), resolved off
    /// the cooperative thread pool since `getaddrinfo` blocks.
    static func resolve(_ host: String) async throws(FetchError) -> [ResolvedAddress] {
        let outcome: Result<[ResolvedAddress], FetchError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: resolveNow(host)) }
        }
        return try outcome.get()
    }

    /// `getaddrinfo(host)`, blocking.
    private static func resolveNow(_ host: String) -> Result<[ResolvedAddress], FetchError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            return .failure(.unresolvable(host: host, reason: String(cString: gai_strerror(status))))
        }
        var addresses: [ResolvedAddress] = []
        var node = list
        while let info = node {
            if let address = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    var raw = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(ResolvedAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                case AF_INET6:
                    var raw = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(ResolvedAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                default:
                    break
                }
            }
            node = info.pointee.ai_next
        }
        guard !addresses.isEmpty else { return .failure(.unresolvable(host: host, reason: "no IPv4 or IPv6 address")) }
        return .success(addresses)
    }

    /// Why an address is never fetched (phrased to follow "is"), or `nil` for a public address.
    public static func restriction(of bytes: [UInt8]) -> String? {
        AddressRestriction.reason(for: bytes)
    }
}
