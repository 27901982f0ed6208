// libFuzzer entry point over the request decoder and validator.
//
// Built by scripts/fuzz together with Sources/Spool as one module, with
// `-sanitize=fuzzer,address`; not part of the Swift package (libFuzzer supplies `main`).
internal import FoundationEssentials

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    // The Handler's path: parse, then validate every field.
    if let json = try? JSONValue.parse(bytes) {
        _ = try? TaskRequest(validating: json)
    }
    // The Finisher's path for spool files and manual drop-ins.
    _ = try? TaskRequest.decodeSpoolFile(Data(bytes))
    // The pieces that see attacker-chosen strings directly.
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? DataURI(parsing: text).bytes()
    _ = Attachment.problem(withName: text)
    _ = TaskRequest.problem(withWebURL: text)
    return 0
}
