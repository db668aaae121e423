import Foundation
import GatewayStore
import Logging

/// Logs as one JSON object per line on stderr: time, level, label, message and metadata (which carries the
/// request id that the audit record has too).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    private static let output = FileHandle.standardError
    private static let lock = NSLock()

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var object: [String: Any] = [
            "time": Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date()),
            "level": level.rawValue, "label": label, "message": message.description,
        ]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            // Hummingbird names its request id hb.request.id; the audit trail calls it request_id.
            object[key == "hb.request.id" ? "request_id" : key] = "\(value)"
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        let line = Data(JSONLine.escapingLineBreakers(data) + [0x0A])
        Self.lock.withLock { Self.output.write(line) }
    }
}
