#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging
internal import FoundationEssentials

/// A swift-log backend that writes one JSON object per line to standard error, where
/// journald (or `scripts/up`'s log file) collects it.
///
/// Each line is one `write(2)`, so lines from concurrent threads and processes sharing the
/// descriptor never interleave. Callers must not put secrets or request bodies in messages or
/// metadata; nothing here can tell them apart.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let descriptor: Int32

    public init(label: String, descriptor: Int32 = 2) {
        self.label = label
        self.descriptor = descriptor
    }

    /// Makes this backend the process-wide one, at `LLM_DEPLOY_LOG_LEVEL` (default `info`).
    public static func bootstrap(level: String? = nil) {
        let chosen = level.flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = chosen
            return handler
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let timestamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public func log(event: LogEvent) {
        var line = "{\"ts\":"
        JSONText.appendString(Date.now.formatted(Self.timestamp), to: &line)
        line += ",\"level\":"
        JSONText.appendString(event.level.rawValue, to: &line)
        line += ",\"logger\":"
        JSONText.appendString(label, to: &line)
        line += ",\"msg\":"
        JSONText.appendString(event.message.description, to: &line)
        let merged = event.metadata.map { metadata.merging($0) { _, new in new } } ?? metadata
        for key in merged.keys.sorted() {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            JSONText.append(merged[key]!, to: &line)
        }
        line += "}\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            _ = write(descriptor, buffer.baseAddress, buffer.count)
        }
    }
}

/// JSON text for log values, written by hand to keep logging allocation-light.
enum JSONText {
    static func append(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let text):
            appendString(text, to: &line)
        case .stringConvertible(let value):
            switch value {
            case let number as any BinaryInteger: line += "\(number)"
            case let number as Double where number.isFinite: line += "\(number)"
            case let flag as Bool: line += flag ? "true" : "false"
            default: appendString(value.description, to: &line)
            }
        case .array(let items):
            line += "["
            for (index, item) in items.enumerated() {
                if index > 0 { line += "," }
                append(item, to: &line)
            }
            line += "]"
        case .dictionary(let fields):
            line += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                appendString(key, to: &line)
                line += ":"
                append(fields[key]!, to: &line)
            }
            line += "}"
        }
    }

    static func appendString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case "\u{0}"..."\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
