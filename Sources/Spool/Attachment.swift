/// A file that comes with a brief: committed beside the app under `name`.
public struct Attachment: Sendable, Equatable, Codable {
    /// A plain file name: no directories, no `..`, no control characters.
    public var name: String
    /// A `data:` URI (the usual case) or an http(s) URL fetched by the Finisher.
    public var url: String

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }
}

extension Attachment {
    /// The longest name accepted, in UTF-8 bytes (a common file-system limit is 255).
    public static let maximumNameLength = 200

    /// Checks that `name` is safe to use as a file name at the root of a work tree.
    /// - Returns: the reason it is not, or `nil` when it is.
    public static func problem(withName name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > maximumNameLength { return "must be at most \(maximumNameLength) bytes" }
        if name == "." || name == ".." { return "must be a file name, not \(name)" }
        if zip(name.utf8, name.utf8.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }) {
            return "must not contain \"..\""
        }
        for scalar in name.unicodeScalars {
            switch scalar {
            case "/", "\\": return "must not contain a path separator"
            case "\u{0}"..."\u{1F}", "\u{7F}"..."\u{9F}": return "must not contain control characters"
            case "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{200B}"..."\u{200F}", "\u{202A}"..."\u{202E}":
                return "must not contain invisible or bidirectional formatting characters"
            default: continue
            }
        }
        if name.first == " " || name.last == " " { return "must not start or end with a space" }
        if name.utf8.count == 4, name.lowercased() == ".git" { return "must not be .git" }
        return nil
    }
}
