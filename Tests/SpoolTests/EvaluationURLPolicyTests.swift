#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Spool

/// What intake accepts as `evaluation_url` beyond the structural checks: the addresses the
/// notification client can reach, and private ones only where `LLM_DEPLOY_NOTIFY_ALLOW` says.
@Suite struct EvaluationURLPolicyTests {
    @Test func publicHostsAndAddressesAreAccepted() {
        let policy = EvaluationURLPolicy()
        for url in ["https://example.com/notify", "http://8.8.8.8/n", "http://EXAMPLE.com:8443/x?y=1", "https://1.2.3.4.example/n",
                    "http://203.0.114.1/n"] {
            #expect(policy.refusal(of: url) == nil, "\(url)")
        }
    }

    @Test func loopbackAndPrivateLiteralsNeedTheAllowlist() throws {
        let closed = EvaluationURLPolicy()
        for url in ["http://127.0.0.1:9000/n", "http://10.1.2.3/n", "http://192.168.0.7:81/n", "http://172.20.0.1/n",
                    "http://169.254.1.1/n", "http://0.0.0.0:9000/n", "http://localhost:9000/n", "http://app.localhost/n"] {
            let reason = try #require(closed.refusal(of: url), "\(url) accepted without an allowlist")
            #expect(reason.contains("LLM_DEPLOY_NOTIFY_ALLOW"), "\(reason)")
        }
        let open = try EvaluationURLPolicy(environment: ServiceEnvironment(["LLM_DEPLOY_NOTIFY_ALLOW": "127.0.0.1:9000, 10.1.2.3,localhost"]))
        #expect(open.refusal(of: "http://127.0.0.1:9000/n") == nil)
        #expect(open.refusal(of: "http://10.1.2.3:1234/n") == nil)
        #expect(open.refusal(of: "http://localhost:9000/n") == nil)
        #expect(open.refusal(of: "http://127.0.0.1:9001/n") != nil, "the allowlist entry names one port")
        #expect(open.refusal(of: "http://10.1.2.4/n") != nil)
    }

    @Test func whatCanNeverBeDeliveredIsRefusedWhateverTheAllowlist() throws {
        let open = try EvaluationURLPolicy(environment: ServiceEnvironment([
            "LLM_DEPLOY_NOTIFY_ALLOW": "169.254.169.254, [::1], [fd00:ec2::254], metadata.google.internal, 2130706433",
        ]))
        for url in ["http://169.254.169.254/latest/meta-data/", "http://[::1]:8000/n", "http://[fd00:ec2::254]/",
                    "http://metadata.google.internal/", "http://2130706433:8000/n", "http://0x7f.1:8000/n", "http://0x7f000001/n",
                    "http://127.000.000.001/n", "http://1.2.3.4.5/n", "http://256.1.1.1/n"] {
            #expect(open.refusal(of: url) != nil, "\(url) accepted")
            #expect(EvaluationURLPolicy.undeliverable(url) != nil, "\(url) counted as deliverable")
        }
    }

    /// `dottedQuad` reads exactly what the C library's `inet_pton(AF_INET)` reads (four decimal
    /// numbers 0–255, no leading zeros), over random strings of digits, dots and near misses.
    @Test func dottedQuadAgreesWithInetPton() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789..........x a".utf8)
        var samples = ["0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3", "1.2.3.4.", ".1.2.3.4", "01.2.3.4", "1..2.3", "1.2.3.04"]
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...16, using: &generator)
            samples.append(String(decoding: (0..<length).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self))
        }
        for sample in samples {
            var address = in_addr()
            let expected: [UInt8]? = inet_pton(AF_INET, sample, &address) == 1
                ? withUnsafeBytes(of: address.s_addr) { Array($0) } : nil
            #expect(EvaluationURLPolicy.dottedQuad(sample) == expected, "\(sample)")
        }
    }

    @Test func hostsEndingInANumberAreAddressesInAnyForm() {
        for host in ["0x7f.1", "0X7F.0x", "1.0x", "10.0.0.0x1F", "2130706433", "a.b.1"] {
            #expect(EvaluationURLPolicy.undeliverable("http://\(host)/n") != nil, "\(host) is an address that is not dotted-decimal")
        }
        for host in ["example.0xg", "a.b.c1", "a.b.1c", "x.0y1", "host-1.example"] {
            #expect(EvaluationURLPolicy.undeliverable("http://\(host)/n") == nil, "\(host) is a name")
        }
    }

    @Test func aBadAllowlistNamesTheVariable() {
        do {
            _ = try EvaluationURLPolicy(environment: ServiceEnvironment(["LLM_DEPLOY_NOTIFY_ALLOW": "ok.example, host:port"]))
            Issue.record("a bad LLM_DEPLOY_NOTIFY_ALLOW was accepted")
        } catch {
            #expect(error.variable == "LLM_DEPLOY_NOTIFY_ALLOW" && error.reason.contains("\"host:port\""))
        }
    }
}
