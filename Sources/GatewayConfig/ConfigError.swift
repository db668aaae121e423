/// A configuration problem, naming the key's path and what is allowed there.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        path.isEmpty ? problem : "\(path): \(problem)"
    }
}
