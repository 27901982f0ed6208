import Foundation

/// The built tree served on loopback as GitHub Pages serves a project site: under
/// `/<repository>/`, `index.html` for a directory, a redirect from `dir` to `dir/`, the usual
/// MIME types, 404 for a missing file and no directory listing. It is nginx (a single process,
/// no master, in its own process group) with a configuration generated into the run directory;
/// its access log tells which requests failed.
final class PagesServer: Sendable {
    let port: Int
    let repository: String
    private let leader: GroupLeader
    private let accessLog: String

    /// The page the evaluator loads: `http://127.0.0.1:PORT/<repository>/`.
    var pageURL: String { "http://127.0.0.1:\(port)/\(repository)/" }

    private init(port: Int, repository: String, leader: GroupLeader, accessLog: String) {
        self.port = port
        self.repository = repository
        self.leader = leader
        self.accessLog = accessLog
    }

    static func start(tree: String, repository: String, nginx: String, in run: RunDirectory, timeout: TimeInterval) async throws(SiteCheckError) -> PagesServer {
        let unsafe = CharacterSet(charactersIn: "\"';{}\\\n\r$")
        for path in [tree, run.path] where path.rangeOfCharacter(from: unsafe) != nil { throw .unsafePath(path) }
        // A repository name as GitHub allows it: letters, digits, `-`, `_`, `.`.
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !repository.isEmpty, repository.unicodeScalars.allSatisfy(allowed.contains), !repository.hasPrefix(".") else {
            throw .unsafePath(repository)
        }
        var lastError = SiteCheckError.didNotStart("nginx", "no free port")
        // The port is found free, then bound by nginx: another process may take it between the
        // two, so a failed bind is retried on a new port.
        for _ in 0..<3 {
            let port = LoopbackPort.free()
            // One directory per server: a session serves several trees, one after another.
            let directory = "\(run.path)/nginx-\(UUID().uuidString.prefix(8).lowercased())"
            let configuration = Self.configuration(tree: tree, repository: repository, port: port, directory: directory)
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
                try Data(configuration.utf8).write(to: URL(fileURLWithPath: "\(directory)/nginx.conf"))
            } catch {
                throw .workspace("\(error)")
            }
            let leader = try GroupLeader.spawn(
                nginx, ["-p", directory, "-c", "\(directory)/nginx.conf", "-e", "stderr"],
                environment: run.childEnvironment, logPath: "\(directory)/error.log")
            run.record(leader)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline && leader.isRunning && !LoopbackPort.isListening(port) {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if LoopbackPort.isListening(port) && leader.isRunning {
                return PagesServer(port: port, repository: repository, leader: leader, accessLog: "\(directory)/access.log")
            }
            lastError = .didNotStart("nginx", leader.isRunning ? "not listening after \(Int(timeout)) s" : leader.logTail)
            leader.killGroup()
        }
        throw lastError
    }

    func stop() { leader.killGroup() }

    /// Requests answered with a status of 400 or more, as `404 GET /repo/app.js`. Chromium's
    /// own request for `/favicon.ico` at the root is not the page's doing and is left out.
    func failedRequests() -> [String] {
        let text = (try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, let status = Int(fields[0]), status >= 400, fields[2] != "/favicon.ico" else { return nil }
            return "\(status) \(fields[1]) \(fields[2].prefix(200))"
        }
    }

    /// GitHub Pages' behaviour, in nginx terms. `master_process off` keeps it one process that
    /// runs as the Finisher's user and can read the private work tree.
    static func configuration(tree: String, repository: String, port: Int, directory: String) -> String {
        """
        daemon off;
        master_process off;
        pid "\(directory)/nginx.pid";
        error_log stderr warn;
        events { worker_connections 64; }
        http {
            \(mimeTypes)
            default_type application/octet-stream;
            charset utf-8;
            charset_types text/html text/css text/plain text/markdown text/csv text/xml application/javascript application/json image/svg+xml;
            log_format check '$status $request_method $request_uri';
            access_log "\(directory)/access.log" check;
            client_body_temp_path "\(directory)/body";
            proxy_temp_path "\(directory)/proxy";
            fastcgi_temp_path "\(directory)/fastcgi";
            uwsgi_temp_path "\(directory)/uwsgi";
            scgi_temp_path "\(directory)/scgi";
            sendfile on;
            server_tokens off;
            # A redirect keeps the client's host and port: relative Location, as Pages does for `dir` → `dir/`.
            absolute_redirect off;
            server {
                listen 127.0.0.1:\(port);
                location = /\(repository) { return 301 /\(repository)/; }
                location /\(repository)/ {
                    alias "\(tree)/";
                    index index.html;
                    autoindex off;
                    # Pages serves the site's own 404.html, when there is one, with status 404;
                    # a directory without index.html is a 404 there too (nginx says 403).
                    error_page 404 /\(repository)/404.html;
                    error_page 403 =404 /\(repository)/404.html;
                }
                location / { return 404; }
            }
        }
        """
    }

    /// The types GitHub Pages sends for what sites commonly hold.
    static let mimeTypes = """
    types {
                text/html html htm;
                text/css css;
                application/javascript js mjs;
                application/json json map webmanifest;
                text/plain txt;
                text/markdown md markdown;
                text/csv csv;
                application/xml xml;
                image/svg+xml svg;
                image/png png;
                image/jpeg jpg jpeg;
                image/gif gif;
                image/webp webp;
                image/x-icon ico;
                font/woff woff;
                font/woff2 woff2;
                application/wasm wasm;
                application/pdf pdf;
                application/zip zip;
                application/vnd.openxmlformats-officedocument.spreadsheetml.sheet xlsx;
            }
    """
}

/// Loopback ports: one the kernel says is free, and whether something listens on one.
enum LoopbackPort {
    static func free() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: 0)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
