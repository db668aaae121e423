import Foundation
import GatewayAPI
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

    public func log(event: LogEvent) {
        var fields: [String: String] = [
            "time": Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date()),
            "level": event.level.rawValue, "label": label, "message": event.message.description,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            // Hummingbird names its request id hb.request.id; the audit trail calls it request_id.
            fields[key == "hb.request.id" ? "request_id" : key] = "\(value)"
        }
        let line = Data(JSONLine.escapingLineBreakers(APIJSON.encode(fields)) + [0x0A])
        Self.lock.withLock { Self.output.write(line) }
    }
}
