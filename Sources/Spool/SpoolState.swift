/// The queue a task file sits in; each is a directory under the spool root (docs/architecture.md, The spool contract).
public enum SpoolState: String, CaseIterable, Sendable, Codable {
    /// Accepted, not yet claimed: the Handler and manual drop-ins deliver here.
    case incoming
    /// Claimed by a running Finisher, which holds a lock on the file.
    case active
    /// Published; its notification is still to be delivered. The file's modification time is
    /// when the next attempt is due. Served by the one Finisher holding the notify lock, never
    /// in a generation slot.
    case notify
    /// Waiting for its next attempt after a transient failure.
    case deferred
    /// Finished: published and notified.
    case done
    /// Given up on; the journal says why. `retry` moves it back to `incoming`.
    case failed
}
