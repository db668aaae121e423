import Foundation
import GatewayConfig

/// Checks a Destination before it goes into a sign-in URL: only the partition's console, so the URL cannot
/// carry a freshly minted session off to someone else's site.
public enum ConsoleDestination {
    public static func resolve(_ destination: URL?, region: String?, partition: Partition) throws -> URL {
        let url = destination ?? partition.defaultConsoleURL
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              components.scheme?.lowercased() == "https",
              let host = components.host?.lowercased(),
              components.user == nil, components.password == nil,
              components.port == nil || components.port == 443,
              isConsoleHost(host, partition: partition)
        else {
            throw MintingError.invalidRequest("destination \(url.absoluteString) is not on the \(partition.rawValue) console (https://\(partition.consoleHost)/…)")
        }
        components.port = nil
        if components.path.isEmpty { components.path = "/" }
        if let region {
            guard Region(region)?.partition == partition else {
                throw MintingError.invalidRequest("region \(region) is not a region of partition \(partition.rawValue)")
            }
            if partition == .aws { components.host = "\(region).\(partition.consoleHost)" }
            var items = (components.queryItems ?? []).filter { $0.name != "region" }
            items.append(URLQueryItem(name: "region", value: region))
            components.queryItems = items
        }
        guard let resolved = components.url else {
            throw MintingError.invalidRequest("destination \(url.absoluteString) cannot be used")
        }
        return resolved
    }

    static func isConsoleHost(_ host: String, partition: Partition) -> Bool {
        if host == partition.consoleHost { return true }
        guard partition == .aws, host.hasSuffix("." + partition.consoleHost) else { return false }
        let label = String(host.dropLast(partition.consoleHost.count + 1))
        return Region(label) != nil
    }
}
