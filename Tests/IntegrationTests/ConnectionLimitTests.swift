import Foundation
import Testing
import TestSupport

/// nginx's connection limits and timeouts (deploy/nginx.conf) against one hostile address.
@Suite(.serialized) struct ConnectionLimitTests {
    /// 3,000 stalled connections from 127.0.0.2 neither exhaust nginx's workers nor lock out
    /// another client, and that address gets no more than 64 requests in progress.
    @Test func oneAddressHoldingThousandsOfConnectionsDoesNotLockOutOthers() throws {
        try Self.raiseDescriptorLimit(to: 8_192)
        try withStack { stack in
            // Opened in well under nginx's 10 s header timeout, so all are still held below.
            let idle = try Self.connect(3_000, from: "127.0.0.2", port: stack.port)
            defer { idle.forEach { close($0) } }
            // Half a request (slowloris): nginx cannot reclaim these as it does connections
            // that sent nothing yet.
            for fd in idle { _ = "GET /healthz HTTP/1.1\r\nX-Wait: ".withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
            // Complete headers, no body: these count as requests in progress.
            let slow = try Self.connect(100, from: "127.0.0.2", port: stack.port)
            defer { slow.forEach { close($0) } }
            let head = "POST /request HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            for fd in slow { _ = head.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }

            let response = try HTTPClient.send(
                port: stack.port, path: "/request", headers: ["Content-Type": "application/json"],
                body: JSONSerialization.data(withJSONObject: stack.request()), timeout: 5)
            #expect(response.status == 200, "\(response.text)")
            #expect(Self.stillOpen(idle) == idle.count, "nginx dropped idle connections before the request was answered: nothing was tested")

            let answers = Self.firstBytes(of: slow, within: 3)
            let refused = answers.filter { $0.hasPrefix("HTTP/1.1 429") && $0.contains("\"too_many_requests\"") }
            #expect(refused.count >= 100 - 64, "\(refused.count) of 100 slow requests refused; answers: \(Set(answers.map { String($0.prefix(12)) }))")
            #expect(refused.count < 100, "requests within the per-address limit were refused as well")
            let errors = (try? String(contentsOfFile: "\(stack.home)/log/nginx.error.log", encoding: .utf8)) ?? ""
            #expect(!errors.contains("worker_connections are not enough"))
        }
    }

    /// `count` TCP connections to 127.0.0.1:`port` whose source address is `source`.
    static func connect(_ count: Int, from source: String, port: Int) throws -> [Int32] {
        var sockets: [Int32] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else {
                sockets.forEach { close($0) }
                throw HTTPClient.Failure(description: "socket: errno \(errno) after \(sockets.count)")
            }
            var time = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = in_port_t(UInt16(port).bigEndian)
            remote.sin_addr.s_addr = inet_addr("127.0.0.1")
            let size = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
            let connected = bound == 0
                && withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) } } == 0
            guard connected else {
                let code = errno
                close(fd)
                sockets.forEach { close($0) }
                throw HTTPClient.Failure(description: "connection \(sockets.count + 1) from \(source): errno \(code)")
            }
            sockets.append(fd)
        }
        return sockets
    }

    /// How many of `sockets` the server has neither closed nor written to.
    static func stillOpen(_ sockets: [Int32]) -> Int {
        var polls = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&polls, nfds_t(polls.count), 0)
        return polls.filter { $0.revents == 0 }.count
    }

    /// What each socket received within `seconds` (empty when nothing came).
    static func firstBytes(of sockets: [Int32], within seconds: Double) -> [String] {
        var answers = [String](repeating: "", count: sockets.count)
        let end = Date().addingTimeInterval(seconds)
        var pending = Set(sockets.indices)
        while !pending.isEmpty, Date() < end {
            var polls = pending.map { pollfd(fd: sockets[$0], events: Int16(POLLIN), revents: 0) }
            let indices = Array(pending)
            guard poll(&polls, nfds_t(polls.count), 100) > 0 else { continue }
            for (slot, item) in polls.enumerated() where item.revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(item.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count > 0 { answers[indices[slot]] += String(decoding: buffer[0..<count], as: UTF8.self) }
                if count <= 0 || answers[indices[slot]].contains("\r\n\r\n") { pending.remove(indices[slot]) }
            }
        }
        return answers
    }

    /// Raises this process's soft RLIMIT_NOFILE (inherited by the nginx it starts) to `wanted`.
    static func raiseDescriptorLimit(to wanted: rlim_t) throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        guard limit.rlim_cur < wanted else { return }
        guard limit.rlim_max >= wanted else {
            throw HTTPClient.Failure(description: "RLIMIT_NOFILE's hard limit is \(limit.rlim_max); this test needs \(wanted)")
        }
        limit.rlim_cur = wanted
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
