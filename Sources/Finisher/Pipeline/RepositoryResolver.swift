import Foundation
import Spool

/// Decides which repository a task round publishes to. A round whose task was published
/// before (by this sender) continues in the repository its journal names, whatever the naming
/// rule says today; otherwise the name comes from `RepositoryName`. The journals of the owner's
/// other rounds also supply their task IDs, which prove older commits (made before owner
/// trailers existed) to be the owner's.
struct RepositoryResolver: Sendable {
    let spool: SpoolDirectory
    /// Whether more than one sender can reach the service: names then carry the sender.
    let multipleSenders: Bool

    func claim(for request: TaskRequest, journal: TaskJournal) -> RepositoryClaim {
        let owner = RepositoryOwner(email: request.email, task: request.task)
        var rounds: Set<TaskID> = []
        var latest: (round: Int, at: Date, repository: String)?
        // Earlier rounds no longer hold this one back, so they are published (notify/, done/)
        // or given up (failed/). The sender must match exactly: another sender's round of a
        // task with the same name proves nothing about this one.
        for state in [SpoolState.notify, .done, .failed] {
            for name in spool.entries(in: state) {
                guard let id = TaskID(name), id != journal.id, let other = (try? spool.readJournal(id)) ?? nil,
                    other.email == request.email, other.task == request.task
                else { continue }
                rounds.insert(id)
                guard other.round < request.round,
                    let repository = other.outputs.repository ?? other.outputs.repoURL.flatMap(RepositoryName.fromURL)
                else { continue }
                if latest.map({ ($0.round, $0.at) < (other.round, other.updatedAt) }) ?? true {
                    latest = (other.round, other.updatedAt, repository)
                }
            }
        }
        let name = journal.outputs.repository ?? latest?.repository
            ?? RepositoryName.make(task: request.task, sender: multipleSenders ? request.email : nil)
        return RepositoryClaim(name: name, owner: owner, earlierRounds: rounds)
    }
}
