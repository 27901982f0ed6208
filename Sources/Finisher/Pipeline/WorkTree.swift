import Foundation
import Spool

/// A task's working directory under `LLM_DEPLOY_DATA/work/ID`: attachments as received and the
/// tree to publish. It survives a crash, so later stages resume from it.
struct WorkTree: Sendable {
    let root: URL

    init(dataRoot: String, id: TaskID) {
        root = URL(fileURLWithPath: dataRoot).appendingPathComponent("work").appendingPathComponent(id.rawValue)
    }

    var attachments: URL { root.appendingPathComponent("attachments") }
    var tree: URL { root.appendingPathComponent("tree") }
    /// The repository's files before this round (empty in round 1).
    var existing: URL { root.appendingPathComponent("existing") }

    /// Whether `url` (one of the directories above) is there.
    func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }

    /// Relative path → bytes for every regular file under `directory` (`.git` excluded).
    static func files(under directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let base = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [:] }
        while let relative = walker.nextObject() as? String {
            if relative == ".git" || relative.hasPrefix(".git/") {
                walker.skipDescendants()
                continue
            }
            let path = "\(base)/\(relative)"
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if attributes[.type] as? FileAttributeType == .typeRegular {
                files[relative] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
        }
        return files
    }

    /// Replaces `directory` with one holding exactly `files` (paths already validated). Written
    /// aside and renamed into place, so a crash leaves the old tree or the new one, never a part.
    static func write(_ files: [String: Data], to directory: URL) throws {
        let staging = directory.deletingLastPathComponent().appendingPathComponent(".\(directory.lastPathComponent).\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            try add(files, to: staging)
            let old = directory.deletingLastPathComponent().appendingPathComponent(".\(directory.lastPathComponent).old.\(UUID().uuidString)")
            let hadOld = rename(directory.path, old.path) == 0
            guard rename(staging.path, directory.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
            if hadOld { try? FileManager.default.removeItem(at: old) }
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
    }

    /// Makes a git checkout's working tree exactly `files`: everything but `.git` is removed first,
    /// so files left out of a round are deleted by its commit.
    static func replaceCheckout(_ checkout: URL, with files: [String: Data]) throws {
        for entry in try FileManager.default.contentsOfDirectory(atPath: checkout.path) where entry != ".git" {
            try FileManager.default.removeItem(at: checkout.appendingPathComponent(entry))
        }
        try add(files, to: checkout)
    }

    private static func add(_ files: [String: Data], to directory: URL) throws {
        for (path, bytes) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try bytes.write(to: url)
        }
    }
}
