import Foundation
import Spool
import Testing
import TestSupport
@testable import Fetch
@testable import Finisher

/// `fetch_url`'s policy and HTTP side: which addresses are refused (checked on literal addresses
/// and `localhost` only: these tests resolve no other name and connect nowhere but loopback),
/// the operator's allowlist, redirects, and the size and time limits against a loopback server.
struct ToolLoopFetchTests {
    typealias T = ToolLoopFixtures

    /// An address in text as the bytes `getaddrinfo` would give.
    static func bytes(_ text: String) -> [UInt8] {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return []
    }

    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("10.1.2.3", "private address (10.0.0.0/8)"),
        ("172.16.0.1", "private address (172.16.0.0/12)"), ("172.31.255.255", "private"), ("192.168.1.1", "private address (192.168.0.0/16)"),
        ("169.254.169.254", "cloud metadata"), ("169.254.10.1", "link-local"), ("100.100.100.200", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("255.255.255.255", "broadcast"),
        ("::1", "loopback"), ("::", "unspecified"), ("fd00:ec2::254", "cloud metadata"), ("fc00::1", "unique local"),
        ("fdff:1::1", "unique local"), ("fe80::1", "link-local"), ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback address (127.0.0.0/8), inside an IPv6 address"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata address (169.254.169.254), inside an IPv6 address"),
        ("2002:c0a8:101::1", "private address (192.168.0.0/16), inside a 6to4 address"),
    ])
    func nonPublicAddressesAreRefused(address: String, reason: String) {
        let restriction = FetchGuard.restriction(of: Self.bytes(address))
        #expect(restriction?.contains(reason) == true, "\(address): \(restriction ?? "allowed")")
    }

    @Test(arguments: ["8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001::1"])
    func publicAddressesAreAllowed(address: String) {
        #expect(FetchGuard.restriction(of: Self.bytes(address)) == nil)
    }

    @Test func theAllowlistReadsHostsAndPortsAndNamesABadEntry() throws {
        let allowlist = try FetchAllowlist(parsing: " 127.0.0.1:8000, Data.Internal ,[::1]:9000, fd00::5,")
        #expect(allowlist.entries.map(\.description) == ["127.0.0.1:8000", "data.internal", "[::1]:9000", "[fd00::5]"])
        #expect(allowlist.permits(host: "127.0.0.1", port: 8000) && !allowlist.permits(host: "127.0.0.1", port: 8001))
        #expect(allowlist.permits(host: "DATA.internal.", port: 443) && !allowlist.permits(host: "api.data.internal", port: 443))
        #expect(allowlist.permits(host: "[::1]", port: 9000) && allowlist.permits(host: "fd00::5", port: 1))
        #expect(try FetchAllowlist(parsing: nil).entries.isEmpty)
        for bad in ["host:0", "host:99999", "host:port", "a b", "[::1", "user@host", "http://host/"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try FetchAllowlist(parsing: bad) }
        }
        do {
            _ = try FetchAllowlist(parsing: "ok.example, host:port")
        } catch {
            #expect(error.variable == "LLM_DEPLOY_FETCH_ALLOW" && error.reason.contains("\"host:port\""))
        }
    }

    @Test func theEnvironmentsAllowlistReachesTheGenerator() throws {
        let generator = try GeneratorSelection.make(environment: ServiceEnvironment([
            "OPENAI_API_KEY": "sk-test", "LLM_DEPLOY_FETCH_ALLOW": "127.0.0.1:8000,data.internal",
        ]), logger: LogRecorder().logger)
        let chat = try #require(generator as? ChatCompletionsGenerator)
        #expect(chat.tools?.fetcher.policy.allowlist.entries.map(\.description) == ["127.0.0.1:8000", "data.internal"])
        do {
            _ = try GeneratorSelection.make(environment: ServiceEnvironment(["OPENAI_API_KEY": "k", "LLM_DEPLOY_FETCH_ALLOW": "x:y"]),
                                            logger: LogRecorder().logger)
            Issue.record("a bad LLM_DEPLOY_FETCH_ALLOW was accepted")
        } catch {
            #expect(error.variable == "LLM_DEPLOY_FETCH_ALLOW")
        }
    }

    @Test func urlsThatAreNotPublicHTTPAreRefusedBeforeAnyLookup() async {
        let policy = FetchGuard(allowlist: .none)
        let cases = [
            ("ftp://example.com/file", "only http and https"), ("http://user:secret@example.com/", "user name or password"),
            ("http://metadata.google.internal/computeMetadata/v1/", "is a cloud metadata service"),
            ("http://0.0.0.0:8080/", "unspecified"), ("http://[::1]:8080/", "loopback"), ("http://127.1.2.3/", "loopback"),
        ]
        for (text, reason) in cases {
            do {
                try await policy.vet(URL(string: text)!)
                Issue.record("\(text) was allowed")
            } catch {
                #expect(error.isRefusal && error.description.contains(reason), "\(text): \(error)")
            }
        }
    }

    @Test func allowedRedirectsAreFollowedAndCappedAndLimitsHold() async throws {
        let fixture = try FixtureServer(files: ["data.json": #"{"ok": true}"#])
        defer { fixture.stop() }
        var fetcher = URLFetcher(policy: FetchGuard(allowlist: try FetchAllowlist(parsing: "127.0.0.1:\(fixture.port)")))
        fetcher.timeout = 20

        let page = try await fetcher.fetch("\(fixture.url)/redirect?to=/data.json")
        #expect(page.status == 200 && page.redirects == ["\(fixture.url)/data.json"])
        #expect(String(decoding: page.body, as: UTF8.self) == #"{"ok": true}"#)

        fetcher.maximumRedirects = 1
        let twice = "\(fixture.url)/redirect?to=" + "/redirect?to=/data.json".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        do {
            _ = try await fetcher.fetch(twice)
            Issue.record("a second redirect was followed")
        } catch {
            #expect(error == .tooManyRedirects(url: "\(fixture.url)/redirect?…", limit: 1))
        }

        fetcher.maximumBytes = 1_000
        let big = try await fetcher.fetch("\(fixture.url)/big?n=200000")
        #expect(big.truncated && big.body.count == 1_000)

        fetcher.timeout = 1
        let started = Date()
        do {
            _ = try await fetcher.fetch("\(fixture.url)/slow?s=15")
            Issue.record("a slow answer was waited for")
        } catch {
            #expect(error == .timedOut(url: "\(fixture.url)/slow?…", seconds: 1))
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    /// The connection goes to the addresses the guard vetted, not to whatever the name resolves
    /// to by then: a name that resolves nowhere still reaches the loopback server it is pinned to.
    @Test func connectionsGoToTheVettedAddressesOnly() async throws {
        #expect(CurlRun.pinning(("example.com", 443, ["93.184.216.34", "2606:2800:220:1::1"]))
            == ["--resolve", "example.com:443:93.184.216.34,[2606:2800:220:1::1]"])
        #expect(CurlRun.pinning(("allowed.example", 80, [])) == [], "an allowlisted host has no vetted addresses")
        #expect(CurlRun.pinning(("192.0.2.7", 80, ["192.0.2.7"])) == [], "an address needs no pin")

        let fixture = try FixtureServer(files: ["data.json": #"{"pinned": true}"#])
        defer { fixture.stop() }
        let host = "pinned-\(UUID().uuidString.prefix(8).lowercased()).invalid"  // RFC 6761: never resolves
        let arguments = CurlRun.commonArguments(timeout: 10, userAgent: "test")
            + CurlRun.pinning((host, fixture.port, ["127.0.0.1"])) + ["--url", "http://\(host):\(fixture.port)/data.json"]
        let pinned = await CurlRun.run("/usr/bin/curl", arguments, input: Data(), limit: 1 << 20, timeout: 12)
        #expect(pinned.head?.status == 200 && String(decoding: pinned.body, as: UTF8.self) == #"{"pinned": true}"#, "\(pinned.errors)")
        let unpinned = await CurlRun.run(
            "/usr/bin/curl", CurlRun.commonArguments(timeout: 10, userAgent: "test") + ["--url", "http://\(host):\(fixture.port)/data.json"],
            input: Data(), limit: 1 << 20, timeout: 12)
        #expect(unpinned.head == nil && unpinned.failure(url: URL(string: "http://\(host)/")!, host: host, timeout: 10)
            == .unresolvable(host: host, reason: "curl: \(unpinned.errors.suffix(200))"))
    }

    @Test func aLongBodyIsTruncatedWithItsLengthStated() async throws {
        let rows = "[" + (1...500).map { "{\"n\": \($0)}" }.joined(separator: ",") + "]"
        let fixture = try FixtureServer(files: ["rows.json": rows])
        defer { fixture.stop() }
        var settings = ToolLoopSettings(allowlist: try FetchAllowlist(parsing: "127.0.0.1"))
        settings.maximumFetchCharacters = 100
        var tools = GeneratorTools(GeneratorFixtures.brief(), settings: settings)
        let call = ChatCompletionsToolCall(id: "x", name: "fetch_url", arguments: #"{"url": "\#(fixture.url)/rows.json"}"#)
        let result = await tools.run(call, until: Date().addingTimeInterval(30))
        #expect(result.outcome == .ok)
        #expect(result.text.contains("Length: \(rows.count) characters; the first 100 are shown.\n\n[{\"n\": 1},"))
        #expect(result.text.hasSuffix("[… truncated: \(rows.count - 100) more characters]"))
    }

    @Test func recordedArgumentsKeepNoSecret() {
        let key = "sk-proj-\(String(repeating: "a1B2", count: 10))"
        let url = #"{"url": "https://bob:pw@api.example.com/v1?q=chennai&api_key=abc123&token=\#(key)"}"#
        let redacted = ToolCallRecord.redacted(url, secrets: [key])
        #expect(redacted.contains("api.example.com/v1?q=chennai&api_key=redacted&token=redacted"))
        #expect(!redacted.contains("bob") && !redacted.contains("pw@") && !redacted.contains("abc123") && !redacted.contains(key))
        let write = ToolCallRecord.redacted(#"{"path": "config.js", "content": "const key = '\#(key)';"}"#)
        #expect(write == #"{"content":"<\#(15 + key.count) bytes>","path":"config.js"}"#)
        #expect(ToolCallRecord.redacted(#"{"path": "a", "secret": "x"}"#) == #"{"path":"a","secret":"[redacted]"}"#)
        #expect(ToolCallRecord.redacted("{not json") == "<9 bytes that are not a JSON object>")
        #expect(ToolCallRecord.masked("Authorization: Bearer abcdefghijklmnop") == "Authorization: [redacted]")
    }
}
