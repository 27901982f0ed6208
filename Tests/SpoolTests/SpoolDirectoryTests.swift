import Foundation
import Testing
@testable import Spool

@Suite struct SpoolDirectoryTests {
    @Test(arguments: [DirectorySync.Scope.fileSystem, .directory])
    func deliversOneCompleteFileWithoutTheSecret(_ sync: DirectorySync.Scope) throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root, sync: sync)
        var request = try Fixtures.request()
        request.receivedAt = Date()
        #expect(try spool.deliver(request) == .accepted)
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming")
        #expect(files == [request.id.rawValue])
        let data = try Data(contentsOf: URL(fileURLWithPath: spool.path(of: request.id, in: .incoming)))
        let stored = try TaskRequest.decodeSpoolFile(data)
        #expect(stored.brief == request.brief)
        #expect(stored.receivedAt != nil)
        #expect(!String(decoding: data, as: UTF8.self).contains("correct horse"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/tmp").isEmpty)
    }

    @Test func recognisesDuplicatesInEveryQueue() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let request = try Fixtures.request()
        #expect(try spool.deliver(request) == .accepted)
        #expect(try spool.deliver(request) == .duplicate(.incoming))
        for state in [SpoolState.active, .deferred, .done, .failed] {
            let from = spool.path(of: request.id, in: spool.state(of: request.id)!)
            try FileManager.default.moveItem(atPath: from, toPath: spool.path(of: request.id, in: state))
            #expect(try spool.deliver(request) == .duplicate(state))
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").isEmpty)
        }
    }

    @Test func aNewNonceIsANewTask() throws {
        let spool = try SpoolDirectory(root: Fixtures.temporaryDirectory())
        #expect(try spool.deliver(Fixtures.request()) == .accepted)
        #expect(try spool.deliver(Fixtures.request(["nonce": "other"])) == .accepted)
        #expect(try spool.deliver(Fixtures.request(["round": 2])) == .accepted)
    }

    /// A Handler killed after writing under tmp/ but before linking leaves nothing a Finisher
    /// could pick up, and does not block the sender's retry.
    @Test func aCrashBeforeTheLinkLeavesNothingInIncoming() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let request = try Fixtures.request()
        // What a killed delivery leaves behind: a complete or partial file under tmp/.
        try SpoolDirectory.writeDurably(Data(try request.encoded().prefix(40)), to: "\(root)/tmp/\(request.id.rawValue).999.1")
        #expect(spool.state(of: request.id) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").isEmpty)
        #expect(try spool.deliver(request) == .accepted)
        #expect(spool.state(of: request.id) == .incoming)
    }

    @Test func concurrentDeliveriesOfOneTaskWriteItOnce() async throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let request = try Fixtures.request()
        let outcomes = await withTaskGroup(of: SpoolDirectory.Delivery?.self) { group in
            for _ in 0..<16 { group.addTask { try? spool.deliver(request) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .accepted }.count == 1)
        #expect(outcomes.filter { $0 == .duplicate(.incoming) }.count == 15)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").count == 1)
    }

    @Test func concurrentDeliveriesOfManyTasksAllLand() async throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let accepted = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask { (try? spool.deliver(Fixtures.request(["nonce": "n\(index)"]))) == .accepted }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 64)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").count == 64)
    }

    @Test func unwritableSpoolIsAnError() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        try FileManager.default.removeItem(atPath: "\(root)/tmp")
        try "not a directory".write(toFile: "\(root)/tmp", atomically: false, encoding: .utf8)
        #expect(throws: SpoolError.self) { try spool.deliver(Fixtures.request()) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").isEmpty)
    }

    @Test func slotsAreExclusiveAndVisibleToTheHandler() throws {
        let slots = FinisherSlots(spoolRoot: Fixtures.temporaryDirectory(), count: 2)
        #expect(slots.anyFree())
        let first = try #require(try slots.acquire())
        let second = try #require(try slots.acquire())
        #expect(first.index != second.index)
        #expect(try slots.acquire() == nil)
        #expect(!slots.anyFree())
        second.release()
        #expect(slots.anyFree())
        first.release()
    }
}
