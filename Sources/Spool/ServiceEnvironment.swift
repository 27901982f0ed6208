#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import FoundationEssentials

/// Configuration read from the environment with the names in the README's configuration table.
///
/// Every secret `NAME` may instead be given as `NAME_FILE`, a file holding it (systemd
/// credentials, Docker secrets), so it never has to sit in an environment block.
public struct ServiceEnvironment: Sendable {
    /// The variables, as given.
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// A variable's value, or `nil` when it is unset or empty.
    public subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// A secret from `name` or from the file named by `name_FILE` (one trailing newline removed).
    public func secret(_ name: String) throws(ConfigurationError) -> String? {
        let fileVariable = "\(name)_FILE"
        switch (self[name], self[fileVariable]) {
        case (.some, .some):
            throw ConfigurationError(variable: name, reason: "is set together with \(fileVariable); set only one")
        case (let value?, nil):
            return value
        case (nil, let path?):
            let text = try Self.readFile(path, variable: fileVariable)
            let secret = text.hasSuffix("\r\n") ? String(text.dropLast(2))
                : text.hasSuffix("\n") ? String(text.dropLast()) : text
            guard !secret.isEmpty else {
                throw ConfigurationError(variable: fileVariable, reason: "names an empty file: \(path)")
            }
            return secret
        case (nil, nil):
            return nil
        }
    }

    /// A whole number in `range`, or `fallback` when unset.
    public func integer(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = self[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(variable: name, reason: "must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(text)")
        }
        return value
    }

    /// A size in bytes: a number with an optional `k`, `m` or `g` suffix (powers of 1024; `KiB`
    /// and `MB` spellings accepted), or `fallback` when unset.
    public func byteCount(_ name: String, default fallback: Int) throws(ConfigurationError) -> Int {
        guard let text = self[name]?.lowercased() else { return fallback }
        let digits = text.prefix { $0.isNumber }
        let unit = String(text.dropFirst(digits.count).filter { $0 != " " })
        let multipliers: [String: Int] = [
            "": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
            "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
        ]
        guard let number = Int(digits), number > 0, let multiplier = multipliers[unit] else {
            throw ConfigurationError(variable: name, reason: "must be a size such as 26214400, 512k or 25m, not \(text)")
        }
        return number * multiplier
    }

    /// `LLM_DEPLOY_HOME`: the state root.
    public var home: String { self["LLM_DEPLOY_HOME"] ?? "/var/lib/llm-deploy" }
    /// `LLM_DEPLOY_SPOOL`: the spool root.
    public var spoolRoot: String { self["LLM_DEPLOY_SPOOL"] ?? "\(home)/spool" }
    /// `LLM_DEPLOY_DATA`: forge data and work trees.
    public var dataRoot: String { self["LLM_DEPLOY_DATA"] ?? "\(home)/data" }
    /// `LLM_DEPLOY_SLOTS`: Finishers that may run at once.
    public func slots() throws(ConfigurationError) -> Int { try integer("LLM_DEPLOY_SLOTS", default: 2, in: 1...64) }

    /// Reads a small configuration file (at most 1 MiB), naming `variable` in any error.
    public static func readFile(_ path: String, variable: String) throws(ConfigurationError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ConfigurationError(variable: variable, reason: "names \(path), which cannot be read: \(SystemError.message(errno))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw ConfigurationError(variable: variable, reason: "names \(path), which cannot be read: \(SystemError.message(errno))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > 1 << 20 {
                throw ConfigurationError(variable: variable, reason: "names \(path), which is larger than 1 MiB")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A configuration variable with a value the service cannot use.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var variable: String
    public var reason: String

    public init(variable: String, reason: String) {
        self.variable = variable
        self.reason = reason
    }

    public var description: String { "\(variable) \(reason)" }
}
