import Foundation

/// Why a stage did not complete, and so what happens to the task.
enum PipelineError: Error, CustomStringConvertible {
    /// Worth retrying later (network, rate limit, 5xx): the task is deferred, after `retryAfter`
    /// when the peer said how long to wait.
    case transient(String, retryAfter: TimeInterval? = nil)
    /// Retrying cannot help (bad input, refused credentials, a secret in the tree): the task fails.
    case permanent(String)

    var description: String {
        switch self {
        case .transient(let reason, _), .permanent(let reason): reason
        }
    }

    var isTransient: Bool {
        if case .transient = self { return true }
        return false
    }
}
