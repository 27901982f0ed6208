#if canImport(Glibc)
import Glibc
#endif
import CFastCGI
import Logging
import Spool
import Synchronization

/// libfcgi's reentrant API served by a fixed pool of threads, each blocked in its own
/// `FCGX_Accept_r` on the shared listening socket, so one request waiting on `fsync` never
/// holds up another (the kernel hands each connection to one waiting thread).
final class FastCGIServer: Sendable {
    let listener: Int32
    let threads: Int
    let maximumBody: Int
    let logger: Logger
    let handle: @Sendable (IncomingRequest) -> Intake.Outcome
    /// Bodies over 1 MiB cost about five times their size while being decoded and checked, so
    /// only two are handled at once; more get 503 rather than exhausting memory.
    private let largeBodies = Atomic<Int>(0)
    static let largeBody = 1 << 20
    static let largeBodiesAtOnce = 2

    init(
        listener: Int32, threads: Int, maximumBody: Int, logger: Logger,
        handle: @escaping @Sendable (IncomingRequest) -> Intake.Outcome
    ) {
        self.listener = listener
        self.threads = threads
        self.maximumBody = maximumBody
        self.logger = logger
        self.handle = handle
    }

    /// Serves until the process is stopped. Never returns.
    func run() -> Never {
        for _ in 1..<threads { DetachedThread.start { self.serve() } }
        serve()
        exit(1)
    }

    private func serve() {
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        guard FCGX_InitRequest(request, listener, 0) == 0 else {
            logger.critical("FCGX_InitRequest failed")
            exit(1)
        }
        // One read buffer per thread, not one per request; small, as there are many threads.
        var chunk = [CChar](repeating: 0, count: 16 * 1024)
        while FCGX_Accept_r(request) >= 0 {
            let started = Self.monotonicSeconds()
            var incoming = read(request, into: &chunk)
            let outcome = incoming.tooBusy
                ? Intake.Outcome(response: ResponseBodies.failure(
                    503, "busy", "other large requests are being handled; try again shortly", headers: [("Retry-After", "5")]))
                : handle(incoming)
            if incoming.holdsLargeBodySlot {
                largeBodies.subtract(1, ordering: .relaxed)
                incoming.holdsLargeBodySlot = false
            }
            let bytes = outcome.response.cgiBytes()
            _ = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out) }
            }
            // libfcgi otherwise half-closes and waits for the web server to close first, so that
            // unread input cannot reset the connection before the answer is read: one more sleep
            // and wake-up per request. With the input read to its end there is none to fear.
            // Without (a body over the limit, or refused as busy), the connection cannot be kept
            // for the next request either: its unread input would be read as that request. So it
            // is closed that careful way, which drains the input and lets nginx read the answer.
            // (`detached` outlives a request on a kept connection: an earlier one may have set it.)
            if incoming.readToEnd {
                FCGX_Detach(request)
            } else {
                request.pointee.keepConnection = 0
                request.pointee.detached = 0
            }
            FCGX_Finish_r(request)
            var metadata: Logger.Metadata = [
                "method": .string(incoming.method), "path": .string(incoming.path),
                "status": .stringConvertible(outcome.response.status),
                "duration_ms": .stringConvertible(((Self.monotonicSeconds() - started) * 1e6).rounded() / 1e3),
            ]
            if let id = outcome.id { metadata["id"] = .string(id.rawValue) }
            logger.info("request", metadata: metadata)
        }
        logger.critical("FCGX_Accept_r failed; the listening socket is gone")
        exit(1)
    }

    /// Reads the parameters and up to `maximumBody + 1` bytes of body.
    private func read(_ request: UnsafeMutablePointer<FCGX_Request>, into chunk: inout [CChar]) -> IncomingRequest {
        let environment = request.pointee.envp
        func parameter(_ name: String) -> String? {
            FCGX_GetParam(name, environment).map { String(cString: $0) }
        }
        let uri = parameter("DOCUMENT_URI") ?? parameter("REQUEST_URI").map { String($0.prefix { $0 != "?" }) } ?? "/"
        var incoming = IncomingRequest(
            method: parameter("REQUEST_METHOD") ?? "GET", path: uri,
            contentType: parameter("CONTENT_TYPE"), authorization: parameter("HTTP_AUTHORIZATION"), body: [])
        // Announced length over the limit: answer 413 without reading it all.
        let length = parameter("CONTENT_LENGTH").flatMap(Int.init) ?? 0
        if length > maximumBody {
            incoming.bodyExceedsLimit = true
            return incoming
        }
        if length > Self.largeBody {
            guard largeBodies.add(1, ordering: .relaxed).newValue <= Self.largeBodiesAtOnce else {
                largeBodies.subtract(1, ordering: .relaxed)
                incoming.tooBusy = true
                return incoming
            }
            incoming.holdsLargeBodySlot = true
        }
        incoming.body.reserveCapacity(min(length, maximumBody) + 1)
        while incoming.body.count <= maximumBody {
            let count = Int(FCGX_GetStr(&chunk, Int32(chunk.count), request.pointee.in))
            if count <= 0 {
                incoming.readToEnd = count == 0 && FCGX_GetError(request.pointee.in) == 0
                break
            }
            chunk.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: UInt8.self) { incoming.body.append(contentsOf: $0[0..<count]) }
            }
        }
        incoming.bodyExceedsLimit = incoming.body.count > maximumBody
        return incoming
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// A POSIX thread with an explicit stack size, for the accept pool.
enum DetachedThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    static func start(stackSize: Int = 4 << 20, _ run: @escaping @Sendable () -> Void) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed: \(status)")
    }
}
