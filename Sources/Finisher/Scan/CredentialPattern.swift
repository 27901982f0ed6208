import Foundation

/// A credential format recognisable on its own: the secret gate blocks a push that contains one,
/// and the journal's tool-call records mask them. One list, so the two never disagree.
struct CredentialPattern: Sendable {
    /// The rule's name, as findings report it.
    let name: String
    let expression: NSRegularExpression

    private init(_ name: String, _ pattern: String) {
        self.name = name
        expression = try! NSRegularExpression(pattern: pattern)
    }

    /// Token formats of the providers this service (or a model) is likely to meet, private keys and JWTs.
    static let all: [CredentialPattern] = [
        .init("github-token", #"(?<![A-Za-z0-9_])(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}"#),
        .init("github-fine-grained-token", #"github_pat_[A-Za-z0-9_]{22,}"#),
        .init("openai-api-key", #"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"#),
        .init("aws-access-key-id", #"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"#),
        .init("slack-token", #"xox[baprs]-[A-Za-z0-9-]{10,}"#),
        .init("google-api-key", #"AIza[0-9A-Za-z_-]{35}"#),
        .init("private-key", #"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"#),
        .init("jwt", #"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"#),
    ]

    /// A bearer credential in a header or a log line. Masked in records; not a finding of the
    /// gate, where generated code legitimately writes `Bearer ${token}`.
    static let bearer = CredentialPattern("bearer", #"(?i)bearer\s+[A-Za-z0-9._~+/=-]{8,}"#)
}
