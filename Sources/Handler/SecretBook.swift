import Spool

/// The secrets requests must carry: one shared secret, and optionally one per sender e-mail
/// (`LLM_DEPLOY_SECRETS_FILE`). A sender listed in the file must use its own secret.
struct SecretBook: Sendable {
    let shared: [UInt8]?
    let perSender: [String: [UInt8]]

    init(shared: String?, perSender: [String: String] = [:]) {
        self.shared = shared.map { Array($0.utf8) }
        self.perSender = perSender.mapValues { Array($0.utf8) }
    }

    var isEmpty: Bool { shared == nil && perSender.isEmpty }

    /// Whether `secret` is the one configured for `email`, compared in constant time.
    func accepts(_ secret: String, from email: String) -> Bool {
        guard let expected = perSender[email] ?? shared else {
            // Unknown sender with no shared secret: still spend the comparison's time.
            _ = ConstantTime.equals(Array(secret.utf8), Array(secret.utf8))
            return false
        }
        return ConstantTime.equals(expected, Array(secret.utf8))
    }

    /// Whether `secret` is any configured secret (for requests that name no sender).
    func acceptsAny(_ secret: String) -> Bool {
        let given = Array(secret.utf8)
        var matched = false
        for expected in [shared].compactMap({ $0 }) + Array(perSender.values) {
            matched = ConstantTime.equals(expected, given) || matched
        }
        return matched
    }
}
