import Fetch
import Foundation
import Spool

/// The `prepare` stage's work: every attachment decoded (`data:`) or fetched (http(s), with
/// size and time limits) into the work tree under its own name, byte for byte.
struct AttachmentLoader: Sendable {
    /// The same guarded fetcher as the generator's `fetch_url`: no private, loopback or metadata
    /// address unless `LLM_DEPLOY_FETCH_ALLOW` names the host, redirects vetted hop by hop, and
    /// the size limit enforced while downloading.
    let fetcher: URLFetcher
    var maximumBytes = 20 << 20
    var timeout: TimeInterval = 30

    func store(_ attachments: [Attachment], in directory: URL) async throws(PipelineError) {
        let staging = directory.deletingLastPathComponent().appendingPathComponent(".attachments.\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            for attachment in attachments {
                // Checked again here: a manual drop-in never went through the Handler.
                if let problem = Attachment.problem(withName: attachment.name) {
                    throw PipelineError.permanent("attachment \(attachment.name.debugDescription): name \(problem)")
                }
                let bytes = try await fetch(attachment)
                try bytes.write(to: staging.appendingPathComponent(attachment.name))
            }
            try? FileManager.default.removeItem(at: directory)
            try FileManager.default.moveItem(at: staging, to: directory)
        } catch let error as PipelineError {
            try? FileManager.default.removeItem(at: staging)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw .transient("storing attachments: \(error)")
        }
    }

    func load(_ attachments: [Attachment], from directory: URL) throws(PipelineError) -> [ReceivedAttachment] {
        var received: [ReceivedAttachment] = []
        for attachment in attachments {
            guard let bytes = FileManager.default.contents(atPath: directory.appendingPathComponent(attachment.name).path) else {
                throw .transient("attachment \(attachment.name) is missing from the work tree")
            }
            received.append(ReceivedAttachment(name: attachment.name, mediaType: Self.mediaType(of: attachment), bytes: bytes))
        }
        return received
    }

    private func fetch(_ attachment: Attachment) async throws(PipelineError) -> Data {
        if attachment.url.lowercased().hasPrefix("data:") {
            do {
                return Data(try DataURI(parsing: attachment.url).bytes())
            } catch {
                throw .permanent("attachment \(attachment.name): the URL \(error.reason)")
            }
        }
        var fetcher = self.fetcher
        fetcher.maximumBytes = maximumBytes
        fetcher.timeout = timeout
        let response: URLFetcher.Page
        do {
            response = try await fetcher.fetch(attachment.url)
        } catch {
            switch error {
            case .refusedAddress, .unsupportedURL, .tooManyRedirects:
                throw .permanent("attachment \(attachment.name): \(error)")
            default:
                throw .transient("attachment \(attachment.name): \(error)")
            }
        }
        guard !response.truncated else {
            throw .permanent("attachment \(attachment.name) is larger than \(maximumBytes) bytes")
        }
        switch response.status {
        case 200: return response.body
        case 400..<500: throw .permanent("attachment \(attachment.name): its URL answered HTTP \(response.status)")
        default: throw .transient("attachment \(attachment.name): its URL answered HTTP \(response.status)")
        }
    }

    static func mediaType(of attachment: Attachment) -> String {
        if let uri = try? DataURI(parsing: attachment.url) {
            return String(uri.mediaType.prefix { $0 != ";" })
        }
        let types = ["csv": "text/csv", "json": "application/json", "txt": "text/plain", "md": "text/markdown",
                     "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
                     "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "py": "text/x-python"]
        return types[(attachment.name as NSString).pathExtension.lowercased()] ?? "application/octet-stream"
    }
}
