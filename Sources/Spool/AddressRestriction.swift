/// Which IP addresses an outbound request of ours must not reach on a sender's say-so: this
/// machine, its networks and the cloud's metadata service (SSRF). Shared by the guarded fetch
/// (attachments, `fetch_url`) and the intake check of `evaluation_url`.
public enum AddressRestriction {
    /// Names of cloud metadata services, refused whatever they resolve to.
    public static let metadataHosts: Set<String> = [
        "metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.com", "instance-data", "instance-data.ec2.internal",
    ]

    /// Why an address is never reached (phrased to follow "is"), or `nil` for a public address.
    /// `bytes`: 4 (IPv4) or 16 (IPv6), network byte order.
    public static func reason(for bytes: [UInt8]) -> String? {
        if bytes.count == 4 { return reason(ipv4: bytes) }
        guard bytes.count == 16 else { return "not an IP address" }
        let prefix = { (count: Int) in Array(bytes.prefix(count)) }
        if bytes.allSatisfy({ $0 == 0 }) { return "the unspecified address (::)" }
        if prefix(15).allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return "a loopback address (::1)" }
        // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96).
        if prefix(10).allSatisfy({ $0 == 0 }) && (bytes[10] == 0xFF && bytes[11] == 0xFF || bytes[10] == 0 && bytes[11] == 0)
            || prefix(12) == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return reason(ipv4: Array(bytes.suffix(4))).map { "\($0), inside an IPv6 address" }
        }
        if bytes[0] == 0x20 && bytes[1] == 0x02 {
            return reason(ipv4: Array(bytes[2..<6])).map { "\($0), inside a 6to4 address" }
        }
        if isMetadata(bytes) { return "a cloud metadata address (fd00:ec2::254)" }
        if bytes[0] & 0xFE == 0xFC { return "a private (unique local) address (fc00::/7)" }
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return "a link-local address (fe80::/10)" }
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0xC0 { return "a site-local address (fec0::/10)" }
        if bytes[0] == 0xFF { return "a multicast address (ff00::/8)" }
        if prefix(4) == [0x20, 0x01, 0x0D, 0xB8] { return "a documentation address (2001:db8::/32)" }
        return nil
    }

    /// Whether the address is a cloud metadata service's (169.254.169.254, fd00:ec2::254),
    /// which no allowlist lifts: nothing of ours ever needs to send it a sender's data.
    public static func isMetadata(_ bytes: [UInt8]) -> Bool {
        switch bytes.count {
        case 4: return bytes == [169, 254, 169, 254]
        case 16:
            return Array(bytes.prefix(4)) == [0xFD, 0x00, 0x0E, 0xC2] && bytes[4..<14].allSatisfy({ $0 == 0 })
                && bytes[14] == 0x02 && bytes[15] == 0x54
        default: return false
        }
    }

    /// Why an IPv4 address is never reached, or `nil`.
    private static func reason(ipv4 bytes: [UInt8]) -> String? {
        let (a, b, c, d) = (bytes[0], bytes[1], bytes[2], bytes[3])
        switch (a, b) {
        case (0, _): return "an unspecified address (0.0.0.0/8)"
        case (127, _): return "a loopback address (127.0.0.0/8)"
        case (10, _): return "a private address (10.0.0.0/8)"
        case (172, 16...31): return "a private address (172.16.0.0/12)"
        case (192, 168): return "a private address (192.168.0.0/16)"
        case (169, 254) where c == 169 && d == 254: return "the cloud metadata address (169.254.169.254)"
        case (169, 254): return "a link-local address (169.254.0.0/16)"
        case (100, 64...127): return "a shared carrier-grade NAT address (100.64.0.0/10)"
        case (168, 63) where c == 129 && d == 16: return "a cloud platform address (168.63.129.16)"
        case (192, 0) where c == 0: return "an IETF protocol address (192.0.0.0/24)"
        case (192, 0) where c == 2, (198, 51) where c == 100, (203, 0) where c == 113: return "a documentation address"
        case (198, 18...19): return "a benchmarking address (198.18.0.0/15)"
        case (224..., _): return "a multicast, reserved or broadcast address (224.0.0.0/3)"
        default: return nil
        }
    }
}
