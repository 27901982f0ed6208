import Foundation
import Synchronization
import Testing
@testable import Spool

/// Counts flushes as they start and end; each takes `duration` and fails when `fails` says so.
private final class FakeDisk: Sendable {
    let started = Atomic<Int>(0)
    let completed = Atomic<Int>(0)
    let duration: useconds_t
    let fails: @Sendable (Int) -> Bool

    init(duration: useconds_t = 2_000, fails: @escaping @Sendable (Int) -> Bool = { _ in false }) {
        self.duration = duration
        self.fails = fails
    }

    func flush(_ descriptor: Int32) -> Int32 {
        let generation = started.add(1, ordering: .sequentiallyConsistent).newValue
        usleep(duration)
        completed.store(generation, ordering: .sequentiallyConsistent)
        return fails(generation) ? EIO : 0
    }
}

private final class Counter: Sendable {
    let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// Runs `body` on `count` real threads at once (blocking calls; not the cooperative pool).
private func onThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
    let done = DispatchSemaphore(value: 0)
    for _ in 0..<count {
        Thread.detachNewThread {
            body()
            done.signal()
        }
    }
    for _ in 0..<count { done.wait() }
}

/// Group commit: every caller is covered by a flush that started after it called, concurrent
/// callers share flushes, and a failed flush fails exactly the callers it covered.
@Suite struct DirectorySyncTests {
    @Test func everyCallerWaitsForAFlushThatStartedAfterItAndFlushesAreShared() throws {
        let disk = FakeDisk()
        let sync = try DirectorySync(path: Fixtures.temporaryDirectory(), scope: .directory, flush: disk.flush)
        let callers = 32, rounds = 20
        let late = Counter(), failed = Counter()
        onThreads(callers) {
            for _ in 0..<rounds {
                let startedBefore = disk.started.load(ordering: .sequentiallyConsistent)
                do { try sync.sync() } catch { failed.increment() }
                // A flush numbered above startedBefore began after this call; it must have ended.
                if disk.completed.load(ordering: .sequentiallyConsistent) <= startedBefore { late.increment() }
            }
        }
        #expect(late.count == 0)
        #expect(failed.count == 0)
        let flushes = disk.started.load(ordering: .relaxed)
        #expect(flushes >= 1)
        #expect(flushes * 4 < callers * rounds, "callers hardly shared flushes: \(flushes) for \(callers * rounds)")
    }

    @Test func aLoneCallerFlushesOnceAndReturns() throws {
        let disk = FakeDisk(duration: 0)
        let sync = try DirectorySync(path: Fixtures.temporaryDirectory(), scope: .fileSystem, flush: disk.flush)
        for expected in 1...3 {
            try sync.sync()
            #expect(disk.started.load(ordering: .relaxed) == expected)
        }
    }

    @Test func aFailedFlushFailsTheCallersItCoveredAndTheNextOneSucceeds() throws {
        let disk = FakeDisk(duration: 20_000) { $0 == 1 }
        let sync = try DirectorySync(path: Fixtures.temporaryDirectory(), scope: .fileSystem, flush: disk.flush)
        let failed = Counter(), succeeded = Counter()
        onThreads(8) {
            do { try sync.sync() } catch { failed.increment(); return }
            succeeded.increment()
        }
        // Flush 1 (the first caller's) failed; everyone it covered failed with it, and the rest
        // were covered by later flushes that succeeded.
        #expect(failed.count >= 1)
        #expect(failed.count + succeeded.count == 8)
        #expect(throws: Never.self) { try sync.sync() }
        #expect(disk.started.load(ordering: .relaxed) >= (succeeded.count > 0 ? 3 : 2))
    }

    @Test func theRealFlushesWork() throws {
        for scope in [DirectorySync.Scope.directory, .fileSystem] {
            try DirectorySync(path: Fixtures.temporaryDirectory(), scope: scope).sync()
        }
        #expect(throws: SpoolError.self) { try DirectorySync(path: "/nonexistent-\(UUID().uuidString)") }
    }
}
