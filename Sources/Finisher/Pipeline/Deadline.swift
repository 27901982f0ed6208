import Foundation

/// The notification is due `LLM_DEPLOY_DEADLINE` after `received_at` (docs/architecture.md, Deadline). Stages
/// take their budgets from what is left, keeping back what later stages need.
struct Deadline: Sendable {
    let receivedAt: Date
    let total: TimeInterval

    var due: Date { receivedAt.addingTimeInterval(total) }

    /// Time kept back for publishing, checking Pages and notifying after generation.
    static let afterGeneration: TimeInterval = 120
    /// Time kept back for the notification after the Pages check.
    static let afterPages: TimeInterval = 20

    /// Seconds left before `due - reserve`, never below `minimum` (a late task still gets a try).
    func budget(reserving reserve: TimeInterval, minimum: TimeInterval = 5, now: Date = .now) -> TimeInterval {
        max(minimum, due.timeIntervalSince(now) - reserve)
    }
}
