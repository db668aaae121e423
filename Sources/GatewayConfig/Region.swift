/// An AWS region name, such as `us-east-1` or `cn-north-1`: two letters, words, a number. The one place that
/// decides what a region looks like, for the config and for the regions a client asks the console for.
public struct Region: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    public init?(_ name: String) {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].count == 2, parts.dropLast().allSatisfy({ part in !part.isEmpty && part.allSatisfy { $0.isASCII && $0.isLowercase } }),
              let number = parts.last, !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return nil }
        self.name = name
    }

    public var description: String { name }

    /// The partition the region belongs to.
    public var partition: Partition {
        if name.hasPrefix("cn-") { return .awsCN }
        if name.hasPrefix("us-gov-") { return .awsUSGov }
        return .aws
    }
}
