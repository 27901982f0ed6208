import Foundation
import Synchronization
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

    /// Where the file system has no O_TMPFILE, deliveries go through tmp/ and leave nothing there.
    @Test(arguments: [DirectorySync.Scope.fileSystem, .directory])
    func deliversThroughTmpWithoutUnnamedFiles(_ sync: DirectorySync.Scope) throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root, sync: sync, unnamedFiles: false)
        let request = try Fixtures.request()
        #expect(try spool.deliver(request) == .accepted)
        #expect(try spool.deliver(request) == .duplicate(.incoming))
        #expect(try TaskRequest.decodeSpoolFile(Data(contentsOf: URL(fileURLWithPath: spool.path(of: request.id, in: .incoming)))) == request)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/tmp").isEmpty)
    }

    /// An unnamed file becomes a complete, named one through /proc too (kernels before 6.10).
    @Test func namesAnUnnamedFileThroughProc() throws {
        let root = Fixtures.temporaryDirectory()
        _ = try SpoolDirectory(root: root)
        let directory = open("\(root)/incoming", O_RDONLY | O_DIRECTORY)
        defer { close(directory) }
        let supported = Atomic(true)
        let fd = try #require(try SpoolDirectory.writeUnnamed(Array("{}".utf8), in: directory, shown: root, flush: true, supported: supported))
        defer { close(fd) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").isEmpty)
        #expect(SpoolDirectory.nameThroughProc(fd, in: directory, as: "named") == 0)
        #expect(FileManager.default.contents(atPath: "\(root)/incoming/named") == Data("{}".utf8))
        #expect(SpoolDirectory.nameThroughProc(fd, in: directory, as: "named") != 0 && errno == EEXIST)
    }

    @Test func recognisesDuplicatesInEveryQueue() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let request = try Fixtures.request()
        #expect(try spool.deliver(request) == .accepted)
        #expect(try spool.deliver(request) == .duplicate(.incoming))
        for state in SpoolState.allCases where state != .incoming {
            let from = spool.path(of: request.id, in: spool.state(of: request.id)!)
            try FileManager.default.moveItem(atPath: from, toPath: spool.path(of: request.id, in: state))
            #expect(try spool.deliver(request) == .duplicate(state))
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/incoming").isEmpty)
        }
    }

    /// A copy that reached incoming/ while its task moved back through it and was claimed again
    /// (delivery checks the later queues only before its link) is dropped when claimed.
    @Test func aClaimDropsACopyOfATaskAlreadyFurtherAlong() throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root)
        let request = try Fixtures.request()
        let name = request.id.rawValue
        for state in [SpoolState.notify, .deferred, .done, .failed] {
            #expect(try spool.deliver(request) == .accepted)
            try FileManager.default.copyItem(atPath: spool.path(of: request.id, in: .incoming), toPath: spool.path(of: request.id, in: state))
            #expect(try spool.claim(name) == nil, "a copy of a task in \(state.rawValue)/ was claimed")
            #expect(!FileManager.default.fileExists(atPath: spool.path(of: request.id, in: .incoming)))
            #expect(!FileManager.default.fileExists(atPath: spool.path(of: request.id, in: .active)))
            #expect(spool.state(of: request.id) == state)
            try FileManager.default.removeItem(atPath: spool.path(of: request.id, in: state))
        }
        // The task alone is claimed as ever.
        #expect(try spool.deliver(request) == .accepted)
        #expect(try spool.claim(name) != nil)
        #expect(spool.state(of: request.id) == .active)
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

    /// The directory a delivery writes into is gone (unnamed files are written in incoming/,
    /// the fallback writes under tmp/): an error, and nothing delivered.
    @Test(arguments: [true, false])
    func unwritableSpoolIsAnError(unnamedFiles: Bool) throws {
        let root = Fixtures.temporaryDirectory()
        let spool = try SpoolDirectory(root: root, sync: .fileSystem, unnamedFiles: unnamedFiles)
        let broken = unnamedFiles ? "incoming" : "tmp"
        try FileManager.default.removeItem(atPath: "\(root)/\(broken)")
        try "not a directory".write(toFile: "\(root)/\(broken)", atomically: false, encoding: .utf8)
        #expect(throws: SpoolError.self) { try spool.deliver(Fixtures.request()) }
        for state in SpoolState.allCases where state.rawValue != broken {
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(state.rawValue)").isEmpty)
        }
        #expect(try String(contentsOfFile: "\(root)/\(broken)", encoding: .utf8) == "not a directory")
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
