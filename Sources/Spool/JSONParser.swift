/// Reads one JSON document from UTF-8 bytes into a `JSONValue` in a single pass.
///
/// It accepts exactly what Foundation's `JSONDecoder` accepted when it decoded `JSONValue` by
/// probing types (which threw an error per failed probe, most of a request's decoding cost),
/// so replacing it changed no answer. `JSONDecoder` first scans the structure, then decodes what
/// is asked for; hence:
/// - RFC 8259 JSON, plus one trailing comma before `]` or `}` and a leading UTF-8 byte-order mark;
/// - strings must be valid UTF-8 without raw control characters, their `\u` escapes must pair
///   surrogates (`JSONDecoder` let some invalid UTF-8 through in object keys, depending on the value;
///   such keys are refused here, as values are);
/// - the first of duplicate object keys wins, and the values of the later ones are only scanned
///   (`skipValue`), never decoded;
/// - at most `maximumDepth` arrays and objects nested in one another (deeper is refused, never a
///   stack overflow);
/// - a number is `.integer` when it is whole and fits `Int64` (`1.0`, `1e2` and `-0` too; below
///   2^53 as the nearest `Double` says, from 2^53 up as `exactInteger` says), otherwise `.number`;
///   a number too large for a `Double` makes the document invalid.
///
/// Every failure is `nil`: the caller has one message for all of them.
struct JSONParser {
    static let maximumDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0
    /// Reused for strings that contain escapes.
    private var scratch: [UInt8] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Whether `JSONDecoder` would take these bytes for UTF-16 or UTF-32: a zero in the first two
    /// bytes or a UTF-16/32 byte-order mark. UTF-8 JSON never starts that way.
    static func mayBeWideEncoding(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first else { return false }
        return first == 0 || first == 0xFE || first == 0xFF || (bytes.count > 1 && bytes[1] == 0)
    }

    /// The whole input as one value, or `nil` when it is not exactly one JSON document.
    mutating func document() -> JSONValue? {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        guard let value = value() else { return nil }
        skipWhitespace()
        return index == bytes.count ? value : nil
    }

    private mutating func value() -> JSONValue? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case .quote: return string().map(JSONValue.string)
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return nil
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The byte at `index`, if any.
    private var next: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return nil }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return nil }
        index += count
        return value
    }

    // MARK: Containers

    private mutating func array() -> JSONValue? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return nil }
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if next == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            guard let item = value() else { return nil }
            items.append(item)
            skipWhitespace()
            guard let separator = next else { return nil }
            index += 1
            if separator == UInt8(ascii: "]") { return .array(items) }
            guard separator == UInt8(ascii: ",") else { return nil }
            skipWhitespace()
            if next == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
        }
    }

    private mutating func object() -> JSONValue? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return nil }
        index += 1
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if next == UInt8(ascii: "}") {
            index += 1
            return .object(fields)
        }
        while true {
            guard next == .quote, let key = string() else { return nil }
            skipWhitespace()
            guard next == UInt8(ascii: ":") else { return nil }
            index += 1
            skipWhitespace()
            if fields[key] == nil {
                guard let item = value() else { return nil }
                fields[key] = item
            } else {
                guard skipValue() else { return nil }
            }
            skipWhitespace()
            guard let separator = next else { return nil }
            index += 1
            if separator == UInt8(ascii: "}") { return .object(fields) }
            guard separator == UInt8(ascii: ",") else { return nil }
            skipWhitespace()
            if next == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
        }
    }

    /// Steps over the value at `index` checking only what `JSONDecoder`'s structural scan
    /// checks: brackets, separators, literals, a closed string (an escape's next byte, or the
    /// four after `\u`, are taken as they are), and a number as a run of digits, `.`, `e`, `E`,
    /// `+` and `-` that starts with a digit or `-`.
    private mutating func skipValue() -> Bool {
        guard let byte = next else { return false }
        switch byte {
        case .quote:
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case .quote:
                    index += 1
                    return true
                case .backslash:
                    index += index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "u") ? 6 : 2
                default:
                    index += 1
                }
            }
            return false
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let isArray = byte == UInt8(ascii: "[")
            let close = isArray ? UInt8(ascii: "]") : UInt8(ascii: "}")
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else { return false }
            index += 1
            skipWhitespace()
            if next == close {
                index += 1
                return true
            }
            while true {
                if !isArray {
                    guard next == .quote, skipValue() else { return false }
                    skipWhitespace()
                    guard next == UInt8(ascii: ":") else { return false }
                    index += 1
                    skipWhitespace()
                }
                guard skipValue() else { return false }
                skipWhitespace()
                guard let separator = next else { return false }
                index += 1
                if separator == close { return true }
                guard separator == UInt8(ascii: ",") else { return false }
                skipWhitespace()
                if next == close {
                    index += 1
                    return true
                }
            }
        case UInt8(ascii: "t"): return literal("true", .null) != nil
        case UInt8(ascii: "f"): return literal("false", .null) != nil
        case UInt8(ascii: "n"): return literal("null", .null) != nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            index += 1
            while let byte = next, isDigit(byte) || byte == UInt8(ascii: ".") || byte | 0x20 == UInt8(ascii: "e")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
            {
                index += 1
            }
            return true
        default:
            return false
        }
    }

    // MARK: Strings

    /// A string starting at the opening quote.
    private mutating func string() -> String? {
        index += 1
        let start = index
        // Most strings have no escape: validate the bytes in place.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == .quote {
                index += 1
                return String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            if byte == .backslash { break }
            if byte < 0x20 { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        // Escapes only ever produce a lead byte, so a run of raw bytes split by one is valid
        // UTF-8 exactly when it was valid on its own: validating the whole result is enough.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case .quote:
                index += 1
                return String(validating: scratch, as: UTF8.self)
            case .backslash:
                guard unescape() else { return nil }
            case 0..<0x20:
                return nil
            default:
                scratch.append(byte)
                index += 1
            }
        }
        return nil
    }

    /// Appends the character of the escape at `index` to `scratch`.
    private mutating func unescape() -> Bool {
        guard index + 1 < bytes.count else { return false }
        let letter = bytes[index + 1]
        index += 2
        switch letter {
        case .quote, .backslash, UInt8(ascii: "/"): scratch.append(letter)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            guard let unit = hexUnit() else { return false }
            var value = UInt32(unit)
            switch unit {
            case 0xD800...0xDBFF:
                guard bytes.count - index >= 2, bytes[index] == .backslash, bytes[index + 1] == UInt8(ascii: "u") else { return false }
                index += 2
                guard let low = hexUnit(), (0xDC00...0xDFFF).contains(low) else { return false }
                value = 0x10000 + (UInt32(unit - 0xD800) << 10 | UInt32(low - 0xDC00))
            case 0xDC00...0xDFFF:
                return false
            default:
                break
            }
            guard let scalar = Unicode.Scalar(value) else { return false }
            scratch.append(contentsOf: UTF8.encode(scalar)!)
        default:
            return false
        }
        return true
    }

    /// Four hex digits after `\u`.
    private mutating func hexUnit() -> UInt16? {
        guard bytes.count - index >= 4 else { return nil }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    // MARK: Numbers

    private mutating func number() -> JSONValue? {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        // Integer part: `0` or a digit run not starting with 0.
        let integerStart = index
        guard let first = next, isDigit(first) else { return nil }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        let integerEnd = index
        var fractionEnd = index
        var exponentMarker: Int?
        if next == UInt8(ascii: ".") {
            index += 1
            guard let digit = next, isDigit(digit) else { return nil }
            skipDigits()
            fractionEnd = index
        }
        if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            exponentMarker = index
            index += 1
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { index += 1 }
            guard let digit = next, isDigit(digit) else { return nil }
            skipDigits()
        }
        let isPlainInteger = fractionEnd == integerEnd && exponentMarker == nil
        if isPlainInteger, let integer = plainInteger(integerStart..<integerEnd, negative: negative) {
            return .integer(integer)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else { return nil }
        guard let whole = Int64(exactly: double) else { return .number(double) }
        if double.magnitude < 9_007_199_254_740_992 { return .integer(whole) }
        // From 2^53 up a Double skips integers: decide from the decimal text instead.
        return exactInteger(
            integer: integerStart..<integerEnd, fraction: fractionEnd > integerEnd ? integerEnd + 1..<fractionEnd : integerEnd..<integerEnd,
            exponent: exponentMarker.map { $0..<index }, negative: negative
        ).map(JSONValue.integer) ?? .number(double)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private mutating func skipDigits() {
        while let byte = next, isDigit(byte) { index += 1 }
    }

    /// Digits as an `Int64`, or `nil` when they overflow it.
    private func plainInteger(_ digits: Range<Int>, negative: Bool) -> Int64? {
        // Accumulate negatively: Int64.min has no positive counterpart.
        var value: Int64 = 0
        for position in digits {
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.subtractingReportingOverflow(Int64(bytes[position] - UInt8(ascii: "0")))
            if overflowTimes || overflowSum { return nil }
            value = sum
        }
        if negative { return value }
        return value == .min ? nil : -value
    }

    /// From 2^53 up, as `JSONDecoder` read such a number: as a decimal whose significant digits
    /// (without leading or trailing zeros) fit in 64 bits, truncated toward zero, when the result
    /// is in (Int64.min, Int64.max]; else `nil`. `exponent` starts at the `e` or `E`.
    private func exactInteger(integer: Range<Int>, fraction: Range<Int>, exponent: Range<Int>?, negative: Bool) -> Int64? {
        var digits = Array(bytes[integer]) + bytes[fraction]
        var scale = -fraction.count
        if let exponent {
            var position = exponent.lowerBound + 1
            let sign = bytes[position] == UInt8(ascii: "-") ? -1 : 1
            if bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+") { position += 1 }
            var magnitude = 0
            for place in position..<exponent.upperBound {
                magnitude = min(magnitude * 10 + Int(bytes[place] - UInt8(ascii: "0")), 1_000_000)
            }
            scale += sign * magnitude
        }
        while digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            scale += 1
        }
        var significand: UInt64 = 0
        for digit in digits.drop(while: { $0 == UInt8(ascii: "0") }) {
            let (times, overflowTimes) = significand.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            if overflowTimes || overflowSum { return nil }
            significand = sum
        }
        while scale < 0, significand > 0 {
            significand /= 10
            scale += 1
        }
        while scale > 0, significand > 0 {
            let (times, overflow) = significand.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            significand = times
            scale -= 1
        }
        guard significand <= UInt64(Int64.max) else { return nil }
        return negative ? -Int64(significand) : Int64(significand)
    }
}

extension UInt8 {
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let backslash = UInt8(ascii: "\\")
}
