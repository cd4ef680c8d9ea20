import Common

/// One fuzz input through every parser that sees client or broker bytes: the JSON parser, the
/// create_task body, the get_task query, the Kafka task message, and the JSON writer's round trip.
/// A crash, a sanitizer report or a failed round trip is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    if let value = try? JSONParser().parse(bytes) {
        // Whatever parses must serialize to text that parses back to the same value.
        guard let again = try? JSONParser.parse(value.serialized), again == value else {
            fatalError("JSON round trip failed")
        }
    }
    _ = try? CreateTaskRequest.parse(body: bytes)
    _ = try? GetTaskRequest.taskID(fromQuery: String(decoding: bytes, as: UTF8.self))
    _ = try? OutPaintingTaskMessage.decode(bytes)
    return 0
}
