#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging

/// A swift-log backend that writes one JSON object per line to standard error, where
/// journald (or `scripts/up`'s log file) collects it.
///
/// Each line is one `write(2)` (or part of one, batched), so lines from concurrent threads and
/// processes sharing the descriptor never interleave. Callers must not put secrets or request
/// bodies in messages or metadata; nothing here can tell them apart.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let descriptor: Int32
    private let batcher: LogBatcher?

    /// With a `batcher`, lines below `warning` are written in batches (see `LogBatcher`).
    public init(label: String, descriptor: Int32 = 2, batcher: LogBatcher? = nil) {
        self.label = label
        self.descriptor = descriptor
        self.batcher = batcher
    }

    /// Makes this backend the process-wide one, at `LLM_DEPLOY_LOG_LEVEL` (default `info`).
    /// `batched`: for a process that logs every request (the Handler).
    public static func bootstrap(level: String? = nil, batched: Bool = false) {
        let chosen = level.flatMap(Logger.Level.init(rawValue:)) ?? .info
        let batcher = batched ? LogBatcher(descriptor: 2) : nil
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label, batcher: batcher)
            handler.logLevel = chosen
            return handler
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = LogLine()
        line.raw("{\"ts\":\"")
        line.timestamp(Self.now())
        line.raw("\",\"level\":")
        line.string(event.level.rawValue)
        line.raw(",\"logger\":")
        line.string(label)
        line.raw(",\"msg\":")
        line.string(event.message.description)
        // The Handler logs every request with metadata and no handler-level fields: skip the merge.
        let merged = metadata.isEmpty ? event.metadata ?? [:] : metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() {
            line.raw(",")
            line.string(key)
            line.raw(":")
            line.value(merged[key]!)
        }
        line.raw("}\n")
        if let batcher {
            batcher.append(line.bytes, now: event.level >= .warning)
        } else {
            line.bytes.withUnsafeBytes { buffer in
                _ = write(descriptor, buffer.baseAddress, buffer.count)
            }
        }
    }

    /// Wall-clock time, UTC: seconds since the epoch and milliseconds.
    static func now() -> (seconds: Int, milliseconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return (Int(now.tv_sec), Int(now.tv_nsec) / 1_000_000)
    }
}

/// One log line as JSON, written straight into bytes: the Handler writes one per request, and
/// building it through `String` and Foundation's date formatting cost more than parsing the
/// request (bench/accept's profile).
struct LogLine {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `2026-11-29T22:05:15.985Z`: ISO 8601, UTC, milliseconds (`gmtime_r`, then digits by hand:
    /// Foundation's ISO 8601 formatting cost more than parsing the request).
    mutating func timestamp(_ time: (seconds: Int, milliseconds: Int)) {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        digits(Int(parts.tm_year) + 1900, 4); bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2); bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2); bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2); bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2); bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2); bytes.append(UInt8(ascii: "."))
        digits(time.milliseconds, 3); bytes.append(UInt8(ascii: "Z"))
    }

    /// `value` in decimal, zero-padded to `width` digits.
    private mutating func digits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        if rest >= divisor * 10 { bytes.append(contentsOf: String(rest / (divisor * 10)).utf8); rest %= divisor * 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    mutating func value(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let text):
            string(text)
        case .stringConvertible(let value):
            switch value {
            case let number as any BinaryInteger: bytes.append(contentsOf: "\(number)".utf8)
            case let number as Double where number.isFinite: bytes.append(contentsOf: "\(number)".utf8)
            case let flag as Bool: flag ? raw("true") : raw("false")
            default: string(value.description)
            }
        case .array(let items):
            raw("[")
            for (index, item) in items.enumerated() {
                if index > 0 { raw(",") }
                self.value(item)
            }
            raw("]")
        case .dictionary(let fields):
            raw("{")
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { raw(",") }
                string(key)
                raw(":")
                self.value(fields[key]!)
            }
            raw("}")
        }
    }

    /// A quoted JSON string. Besides what JSON requires (`"`, `\`, controls), DEL and the line
    /// and paragraph separators U+2028/U+2029 are escaped, so no log viewer splits a line.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var runStart = 0
            var offset = 0
            while offset < utf8.count {
                let byte = utf8[offset]
                let escaped: UInt32?
                var width = 1
                switch byte {
                case 0..<0x20, 0x22, 0x5C, 0x7F:
                    escaped = UInt32(byte)
                case 0xE2 where offset + 2 < utf8.count && utf8[offset + 1] == 0x80 && (utf8[offset + 2] == 0xA8 || utf8[offset + 2] == 0xA9):
                    escaped = utf8[offset + 2] == 0xA8 ? 0x2028 : 0x2029
                    width = 3
                default:
                    escaped = nil
                }
                guard let escaped else {
                    offset += 1
                    continue
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<offset]))
                switch escaped {
                case 0x22: raw("\\\"")
                case 0x5C: raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    raw("\\u")
                    for shift in stride(from: 12, through: 0, by: -4) {
                        bytes.append(hex.utf8Start[Int(escaped >> UInt32(shift) & 0xF)])
                    }
                }
                offset += width
                runStart = offset
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
