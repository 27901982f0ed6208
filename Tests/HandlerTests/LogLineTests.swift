import Foundation
import Logging
import Testing
@testable import ServiceLog

/// The log line is written by hand into bytes; these compare it with Foundation's own date
/// formatting and JSON reading.
@Suite struct LogLineTests {
    static let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    @Test(arguments: [
        0, 59, 86_399, 86_400, 68_169_600, 951_782_399, 951_782_400, 951_868_799, 978_307_200,
        1_709_164_800, 1_798_761_599, 4_102_444_799, 4_107_542_400, 253_402_300_799,
    ])
    func timestampMatchesFoundation(seconds: Int) {
        for milliseconds in [0, 7, 999] {
            var line = LogLine()
            line.timestamp((seconds, milliseconds))
            let expected = Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000 + 0.0001)
                .formatted(Self.formatter)
            #expect(String(decoding: line.bytes, as: UTF8.self) == expected, "at \(seconds) s + \(milliseconds) ms")
        }
    }

    @Test func timestampsAcrossCenturiesMatchFoundation() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seconds = Int.random(in: 0...7_258_118_400, using: &generator)  // 1970 to 2200
            var line = LogLine()
            line.timestamp((seconds, 123))
            let expected = Date(timeIntervalSince1970: Double(seconds) + 0.1231).formatted(Self.formatter)
            #expect(String(decoding: line.bytes, as: UTF8.self) == expected, "at \(seconds) s")
        }
    }

    @Test func stringsAreEscapedAndReadBackUnchanged() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let text = "quote \" backslash \\ slash / controls \(controls) del \u{7F} separators \u{2028}\u{2029} é 😀 \u{E2}\u{80}"
        var line = LogLine()
        line.string(text)
        for byte in line.bytes {
            #expect(byte >= 0x20 && byte != 0x7F, "raw byte \(byte) in the line")
        }
        #expect(!line.bytes.windowsContain([0xE2, 0x80, 0xA8]) && !line.bytes.windowsContain([0xE2, 0x80, 0xA9]))
        let decoded = try JSONSerialization.jsonObject(with: Data(line.bytes), options: .fragmentsAllowed) as? String
        #expect(decoded == text)
    }

    @Test func handlerWritesOneParsableLinePerEvent() throws {
        var pipe: [Int32] = [0, 0]
        #expect(Foundation.pipe(&pipe) == 0)
        defer { close(pipe[0]) }
        var handler = JSONLogHandler(label: "handler", descriptor: pipe[1])
        handler.logLevel = .info
        handler[metadataKey: "service"] = "test"
        let before = Date()
        handler.log(event: LogEvent(
            level: .info, message: "request \"x\"\n",
            metadata: ["status": .stringConvertible(200), "duration_ms": .stringConvertible(1.25), "id": "abc",
                       "ok": .stringConvertible(true), "list": ["a", .stringConvertible(2)], "nested": ["k": "v"]],
            source: "Handler", file: #fileID, function: #function, line: #line))
        close(pipe[1])
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(pipe[0], &buffer, buffer.count)
        let bytes = Array(buffer[0..<max(count, 0)])
        #expect(bytes.last == UInt8(ascii: "\n") && bytes.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["msg"] as? String == "request \"x\"\n")
        #expect(object["level"] as? String == "info" && object["logger"] as? String == "handler")
        #expect(object["status"] as? Int == 200 && object["duration_ms"] as? Double == 1.25)
        #expect(object["ok"] as? Bool == true && object["id"] as? String == "abc" && object["service"] as? String == "test")
        #expect(object["list"] as? [AnyHashable] == ["a", 2] && object["nested"] as? [String: String] == ["k": "v"])
        let stamp = try #require(object["ts"] as? String)
        let logged = try Date(stamp, strategy: Self.formatter)
        #expect(abs(logged.timeIntervalSince(before)) < 5)
        // Keys after the fixed four come sorted, so lines diff cleanly.
        let text = String(decoding: bytes, as: UTF8.self)
        let order = ["\"duration_ms\"", "\"id\"", "\"list\"", "\"nested\"", "\"ok\"", "\"service\"", "\"status\""]
            .map { text.range(of: $0)!.lowerBound }
        #expect(order == order.sorted())
    }
}

extension Array where Element == UInt8 {
    fileprivate func windowsContain(_ pattern: [UInt8]) -> Bool {
        guard count >= pattern.count else { return false }
        return (0...(count - pattern.count)).contains { Array(self[$0..<($0 + pattern.count)]) == pattern }
    }
}

/// The Handler's batched log: lines below `warning` wait at most the interval; a warning goes out
/// at once with everything before it, in order.
@Suite struct LogBatcherTests {
    /// Runs `body` with a pipe whose read end does not block. The batcher's thread outlives the
    /// test, so each test leaves nothing queued that it could write later into a reused descriptor.
    static func withPipe(_ body: (_ readEnd: Int32, _ writeEnd: Int32) throws -> Void) rethrows {
        var ends: [Int32] = [0, 0]
        #expect(Foundation.pipe(&ends) == 0)
        _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
        defer { close(ends[0]); close(ends[1]) }
        try body(ends[0], ends[1])
    }

    static func readAvailable(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let count = read(descriptor, &buffer, buffer.count)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    @Test func infoLinesWaitForTheIntervalThenLeaveTogether() {
        Self.withPipe { readEnd, writeEnd in
            let batcher = LogBatcher(descriptor: writeEnd, intervalMilliseconds: 300)
            batcher.append(Array("one\n".utf8), now: false)
            batcher.append(Array("two\n".utf8), now: false)
            #expect(Self.readAvailable(readEnd) == "", "a line below warning was written at once")
            var text = ""
            let deadline = Date().addingTimeInterval(5)
            while text != "one\ntwo\n" && Date() < deadline {
                usleep(20_000)
                text += Self.readAvailable(readEnd)
            }
            #expect(text == "one\ntwo\n")
        }
    }

    @Test func aWarningIsWrittenAtOnceAfterWhatCameBefore() {
        Self.withPipe { readEnd, writeEnd in
            let batcher = LogBatcher(descriptor: writeEnd, intervalMilliseconds: 60_000)
            batcher.append(Array("info\n".utf8), now: false)
            batcher.append(Array("warning\n".utf8), now: true)
            #expect(Self.readAvailable(readEnd) == "info\nwarning\n")
        }
    }

    @Test func aFullBufferIsWrittenWithoutWaiting() {
        Self.withPipe { readEnd, writeEnd in
            let batcher = LogBatcher(descriptor: writeEnd, intervalMilliseconds: 60_000, limit: 32)
            // 20 bytes a line: every second line fills the 32-byte buffer, which goes out at once.
            for index in 0..<4 { batcher.append(Array("line \(index) of the batch\n".utf8), now: false) }
            #expect(Self.readAvailable(readEnd) == (0..<4).map { "line \($0) of the batch\n" }.joined())
            batcher.append(Array("last\n".utf8), now: true)  // leaves nothing queued before the pipe closes
            #expect(Self.readAvailable(readEnd) == "last\n")
        }
    }
}
