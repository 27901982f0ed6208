import Foundation

/// One HTTP/1.1 exchange with a server on 127.0.0.1, for chromedriver.
///
/// Fetch's WebClient (URLSession) cannot be used: chromedriver writes header lines without a
/// space after the colon (`Content-Length:250`), which FoundationNetworking rejects ("Failed
/// writing header"). chromedriver always sends `Content-Length`; the exchange is one request on
/// one connection (`Connection: close`), bounded as a whole by `timeout`, and the body by
/// `maximumBytes`.
enum LoopbackHTTP {
    struct Response {
        var status: Int
        var body: Data
    }

    enum Failure: Error {
        /// Nothing (or not all) came back in time.
        case timedOut
        /// Refused, reset, or not HTTP.
        case broken(String)
    }

    static func exchange(port: Int, method: String, path: String, body: Data?, timeout: TimeInterval, maximumBytes: Int = 16 << 20) async throws(Failure) -> Response {
        let result: Result<Response, Failure> = await withCheckedContinuation { continuation in
            // Blocking I/O with poll(2) bounds, off the cooperative pool.
            Thread.detachNewThread {
                continuation.resume(returning: Result { () throws(Failure) -> Response in
                    try blockingExchange(port: port, method: method, path: path, body: body, deadline: Date().addingTimeInterval(timeout), maximumBytes: maximumBytes)
                })
            }
        }
        return try result.get()
    }

    private static func blockingExchange(port: Int, method: String, path: String, body: Data?, deadline: Date, maximumBytes: Int) throws(Failure) -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .broken("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 {
            guard errno == EINPROGRESS else { throw .broken("connect: \(String(cString: strerror(errno)))") }
            try wait(fd, for: Int16(POLLOUT), until: deadline)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { throw .broken("connect: \(String(cString: strerror(error)))") }
        }
        let payload = body ?? Data()
        var request = Data("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nAccept: application/json\r\n".utf8)
        if body != nil || method == "POST" {
            request += Data("Content-Type: application/json; charset=utf-8\r\nContent-Length: \(payload.count)\r\n".utf8)
        }
        request += Data("\r\n".utf8) + payload
        var sent = 0
        while sent < request.count {
            try wait(fd, for: Int16(POLLOUT), until: deadline)
            let written = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw .broken("send: \(String(cString: strerror(errno)))")
            }
            sent += written
        }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var expected: Int?
        while true {
            if let headerEnd, let expected, received.count - headerEnd >= expected { break }
            try wait(fd, for: Int16(POLLIN), until: deadline)
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw .broken("recv: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            received.append(contentsOf: buffer[0..<count])
            guard received.count <= maximumBytes else { throw .broken("answer larger than \(maximumBytes) bytes") }
            if headerEnd == nil, let range = received.range(of: Data("\r\n\r\n".utf8)) {
                headerEnd = range.upperBound
                expected = contentLength(String(decoding: received[..<range.lowerBound], as: UTF8.self))
            }
        }
        guard let headerEnd else { throw .broken(received.isEmpty ? "connection closed without an answer" : "not an HTTP answer") }
        let head = String(decoding: received[..<headerEnd], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else { throw .broken("not an HTTP answer") }
        return Response(status: status, body: Data(received[headerEnd...]))
    }

    /// `Content-Length` from the header block, whether or not a space follows the colon.
    private static func contentLength(_ head: String) -> Int? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "content-length" { return Int(pair[1].trimmingCharacters(in: .whitespaces)) }
        }
        return nil
    }

    private static func wait(_ fd: Int32, for events: Int16, until deadline: Date) throws(Failure) {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw .timedOut }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining * 1000, 1000).rounded(.up)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .broken("poll: \(String(cString: strerror(errno)))") }
        }
    }
}
